/** The shortest operator password auth.setup and auth.changePassword accept (the web UI says it too). */
export const MIN_PASSWORD_LENGTH = 10;
