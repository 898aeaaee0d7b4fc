/**
 * A new password and its repetition, as the first run and Settings both ask for it: the rule under
 * the first field, and a mismatch the second field names as its description (screen readers read
 * it with the field).
 */
import { useId } from "react";
import { MIN_PASSWORD_LENGTH } from "../../../src/api/password-rule.ts";

/** The repetition differs from the password (not while it is still empty). */
export function passwordsDiffer(password: string, repeat: string): boolean {
  return repeat !== "" && repeat !== password;
}

export function NewPasswordFields({
  password,
  repeat,
  onPassword,
  onRepeat,
}: {
  password: string;
  repeat: string;
  onPassword: (value: string) => void;
  onRepeat: (value: string) => void;
}) {
  const id = useId();
  const mismatch = passwordsDiffer(password, repeat);
  return (
    <>
      {/* The label holds the name only: the rule and the mismatch are descriptions, read after it. */}
      <div className="field">
        <label htmlFor={`${id}-password`}>New password</label>
        <input
          id={`${id}-password`}
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => onPassword(e.target.value)}
          required
          aria-describedby={`${id}-rule`}
        />
        <small id={`${id}-rule`} className="muted">
          At least {MIN_PASSWORD_LENGTH} characters. A few unrelated words make a good one.
        </small>
      </div>
      <div className="field">
        <label htmlFor={`${id}-repeat`}>Repeat the new password</label>
        <input
          id={`${id}-repeat`}
          type="password"
          autoComplete="new-password"
          value={repeat}
          onChange={(e) => onRepeat(e.target.value)}
          required
          aria-invalid={mismatch}
          aria-describedby={mismatch ? `${id}-mismatch` : undefined}
        />
        {mismatch && (
          <small id={`${id}-mismatch`} className="field-error">
            The two passwords differ.
          </small>
        )}
      </div>
    </>
  );
}
