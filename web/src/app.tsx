import { createContext } from "preact";
import { useCallback, useContext, useEffect, useState } from "preact/hooks";
import { ApiError, logout, tenant } from "./lib/api";
import { t as translate, localeName } from "./lib/i18n";
import { boardField, can, loadModel, type Model } from "./lib/meta";
import { navigate, onLinkClick, useRoute } from "./lib/router";
import { Login } from "./views/login";
import { ListView } from "./views/list";
import { RecordForm } from "./views/form";
import { RecordPage } from "./views/record";
import { Kanban } from "./views/kanban";
import { TasksInbox, ApprovalsInbox } from "./views/inbox";
import { Dashboard } from "./views/dashboard";

export interface Session {
  model: Model;
  t: (key: string, vars?: Record<string, string | number>) => string;
  notify: (text: string, kind?: "ok" | "error") => void;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  return useContext(SessionContext)!;
}

const LOCALE_KEY = `tessera:${tenant}:locale`;

export function App() {
  const [model, setModel] = useState<Model | null>(null);
  const [state, setState] = useState<"loading" | "login" | "ready" | "failed">("loading");
  const [failure, setFailure] = useState("");
  const [toast, setToast] = useState<{ text: string; kind: string } | null>(null);
  const route = useRoute();

  const load = useCallback(async (locale: string | null) => {
    try {
      const m = await loadModel(locale);
      setModel(m);
      document.documentElement.lang = m.locale;
      document.title = `${m.tenant.name} · Tessera`;
      setState("ready");
    } catch (e) {
      if (e instanceof ApiError && (e.code === "UNAUTHENTICATED" || e.code === "FORBIDDEN")) setState("login");
      else {
        setFailure(e instanceof Error ? e.message : String(e));
        setState("failed");
      }
    }
  }, []);

  useEffect(() => {
    load(localStorage.getItem(LOCALE_KEY));
  }, [load]);

  const notify = useCallback((text: string, kind: "ok" | "error" = "ok") => {
    setToast({ text, kind });
    setTimeout(() => setToast((cur) => (cur?.text === text ? null : cur)), 6000);
  }, []);

  if (state === "loading") return <p class="loading" role="status">…</p>;
  if (state === "failed") return <p class="loading error" role="alert">{failure}</p>;
  if (state === "login" || !model)
    return <Login onDone={() => load(localStorage.getItem(LOCALE_KEY))} />;

  const session: Session = {
    model,
    t: (key, vars) => translate(model.locale, key, vars),
    notify,
  };
  const switchLocale = (locale: string) => {
    localStorage.setItem(LOCALE_KEY, locale);
    load(locale);
  };
  const signOut = async () => {
    await logout().catch(() => undefined);
    setModel(null);
    setState("login");
    navigate("", true);
  };

  return (
    <SessionContext.Provider value={session}>
      <div class="shell" onClick={onLinkClick as any}>
        <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
          {session.t("skipToContent")}
        </a>
        <header class="top">
          <a class="brand" href="">{model.tenant.name}</a>
          <div class="who">
            <span class="me" data-testid="me">{model.me.name}</span>
            <label class="locale">
              <span class="sr-only">{session.t("language")}</span>
              <select aria-label={session.t("language")} value={model.locale}
                onChange={(e) => switchLocale((e.target as HTMLSelectElement).value)}>
                {model.tenant.locales.map((l) => <option value={l}>{localeName(l)}</option>)}
              </select>
            </label>
            <button type="button" class="link" onClick={signOut}>{session.t("signOut")}</button>
          </div>
        </header>
        <Nav />
        <main id="main" tabIndex={-1}>
          <Page route={route} />
        </main>
        {toast && (
          <div class={`toast ${toast.kind}`} role={toast.kind === "error" ? "alert" : "status"} data-testid="toast">
            {toast.text}
          </div>
        )}
      </div>
    </SessionContext.Provider>
  );
}

function Nav() {
  const { model, t } = useSession();
  const [open, setOpen] = useState(false);
  const entities = model.entities.filter((e) => !e.internal && can(e, "read"));
  return (
    <nav class={open ? "side open" : "side"} aria-label={t("menu")}>
      <button type="button" class="menu-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        ☰ {t("menu")}
      </button>
      <ul onClick={() => setOpen(false)}>
        <li><a href="dashboard">{t("dashboard")}</a></li>
        <li><a href="tasks">{t("inbox")}</a></li>
        <li><a href="approvals">{t("approvals")}</a></li>
        {entities.map((e) => (
          <li>
            <a href={`e/${e.key}`}>{e.pluralLabel}</a>
            {boardField(model, e) ? (
              <a class="sub" href={`board/${e.key}`} aria-label={`${e.pluralLabel} · ${t("kanban")}`}>{t("kanban")}</a>
            ) : null}
          </li>
        ))}
      </ul>
    </nav>
  );
}

function Page({ route }: { route: string }) {
  const { model } = useSession();
  const parts = route.split("/").filter(Boolean).map(decodeURIComponent);
  const entity = parts[1] ? model.byKey.get(parts[1]) : undefined;
  if (parts[0] === "e" && entity) {
    if (parts.length === 2) return <ListView key={entity.key} entity={entity} />;
    if (parts[2] === "new") return <RecordForm key={`new-${entity.key}`} entity={entity} id={null} />;
    if (parts.length === 4 && parts[3] === "edit") return <RecordForm key={parts[2]} entity={entity} id={parts[2]} />;
    return <RecordPage key={parts[2]} entity={entity} id={parts[2]} />;
  }
  if (parts[0] === "board" && entity) return <Kanban key={entity.key} entity={entity} />;
  if (parts[0] === "tasks") return <TasksInbox />;
  if (parts[0] === "approvals") return <ApprovalsInbox />;
  return <Dashboard />;
}
