/** Words for operations, free of browser types so that Node tests read them too. */

/** What an operation kind is called (in a list of operations), while it runs, and once done. */
export const KIND_WORDS: Record<string, { name: string; doing: string; done: string }> = {
  install: { name: "Install", doing: "Installing", done: "Installed" },
  start: { name: "Start", doing: "Starting", done: "Started" },
  stop: { name: "Stop", doing: "Stopping", done: "Stopped" },
  restart: { name: "Restart", doing: "Restarting", done: "Restarted" },
  uninstall: { name: "Uninstall", doing: "Uninstalling", done: "Uninstalled" },
  purge: { name: "Purge", doing: "Uninstalling and deleting data", done: "Uninstalled, data deleted" },
  reinstall: { name: "Reinstall", doing: "Reinstalling", done: "Reinstalled" },
  retry: { name: "Retry", doing: "Retrying", done: "Retried" },
  update: { name: "Update", doing: "Updating", done: "Updated" },
  approve: { name: "Approve", doing: "Approving permissions", done: "Permissions approved" },
  revoke: { name: "Revoke", doing: "Withdrawing a permission", done: "Permission withdrawn" },
  backup: { name: "Backup", doing: "Backing up", done: "Backed up" },
  restore: { name: "Restore", doing: "Restoring", done: "Restored" },
};
