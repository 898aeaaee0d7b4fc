/** The first run (set the operator password) and the login. */
import { type FormEvent, useState } from "react";
import { client } from "../api.ts";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { NewPasswordFields, passwordsDiffer } from "../components/NewPasswordFields.tsx";
import { useSession } from "../session.tsx";

function Card({ title, lead, children }: { title: string; lead: string; children: React.ReactNode }) {
  return (
    <main className="welcome" id="main">
      <div className="welcome-card">
        <div className="welcome-brand">
          <img src="/favicon.svg" alt="" width="40" height="40" />
          <span>Archipelago</span>
        </div>
        <h1>{title}</h1>
        <p className="muted">{lead}</p>
        {children}
      </div>
    </main>
  );
}

export function Setup() {
  const { enter } = useSession();
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const mismatch = passwordsDiffer(password, again);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (mismatch) return;
    setBusy(true);
    setError(undefined);
    try {
      await client.call("auth.setup", { password });
      enter();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card
      title="Set your password"
      lead="This node has no operator yet. Choose the password that will protect it: you will use it to log in from any browser."
    >
      <form className="form" onSubmit={submit}>
        <input type="text" name="username" autoComplete="username" value="operator" readOnly hidden />
        <NewPasswordFields password={password} repeat={again} onPassword={setPassword} onRepeat={setAgain} />
        <ErrorNote error={error} />
        <button type="submit" className="button button-primary button-wide" disabled={busy || mismatch}>
          {busy ? "Setting the password…" : "Set password and continue"}
        </button>
      </form>
    </Card>
  );
}

export function Login() {
  const { enter, notice } = useSession();
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await client.call("auth.login", { password });
      enter();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Log in" lead="Enter the operator password of this node.">
      {notice && (
        <div className="note note-warn" role="status">
          <p className="note-text">{notice}</p>
        </div>
      )}
      <form className="form" onSubmit={submit}>
        <input type="text" name="username" autoComplete="username" value="operator" readOnly hidden />
        <label className="field">
          <span>Password</span>
          <input
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            required
          />
        </label>
        <ErrorNote error={error} />
        <button type="submit" className="button button-primary button-wide" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
      </form>
    </Card>
  );
}

export function Unreachable() {
  const { retry } = useSession();
  return (
    <Card
      title="The node does not answer"
      lead="The page cannot reach the Archipelago daemon. Is it running?"
    >
      <button type="button" className="button button-primary button-wide" onClick={retry}>
        Try again
      </button>
    </Card>
  );
}
