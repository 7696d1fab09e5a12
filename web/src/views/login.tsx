import { useState } from "preact/hooks";
import { ApiError, login, tenant } from "../lib/api";
import { t } from "../lib/i18n";

/** Sign in to this tenant; the words follow the browser's language until the model is known. */
export function Login({ onDone }: { onDone: () => void }) {
  const lang = navigator.language || "en";
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      await login(email, password);
      onDone();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <form onSubmit={submit} aria-labelledby="login-title">
        <h1 id="login-title">Tessera · {tenant}</h1>
        <label for="login-email">{t(lang, "email")}</label>
        <input id="login-email" type="email" autocomplete="username" required value={email}
          onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
        <label for="login-password">{t(lang, "password")}</label>
        <input id="login-password" type="password" autocomplete="current-password" required value={password}
          onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        {error && <p class="error" role="alert">{t(lang, "loginFailed")}: {error}</p>}
        <button type="submit" class="primary" disabled={busy}>{t(lang, "signIn")}</button>
      </form>
    </main>
  );
}
