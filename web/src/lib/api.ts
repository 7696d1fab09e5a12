// The tenant's HTTP API: login/logout and GraphQL with the session cookie.
// A request that changes anything carries the session's CSRF token
// (X-CSRF-Token), read from the non-HttpOnly tessera_csrf cookie.

export interface FieldError {
  field: string;
  code: string;
  message: string;
}

/** A GraphQL or HTTP error with the server's stable code and located problems. */
export class ApiError extends Error {
  code: string;
  errors: FieldError[];
  constructor(message: string, code: string, errors: FieldError[] = []) {
    super(message);
    this.code = code;
    this.errors = errors;
  }
}

/** An error as one line for the user: the server's message and its located problems. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return [e.message, ...e.errors.map((p) => p.message)].filter(Boolean).join(" · ");
  return e instanceof Error ? e.message : String(e);
}

/** The tenant key from the address: /t/{tenant}/app/... */
export function tenantFromPath(pathname: string): string {
  const m = /^\/t\/([^/]+)\//.exec(pathname + "/");
  return m ? decodeURIComponent(m[1]) : "";
}

export const tenant = tenantFromPath(location.pathname);
export const appBase = `/t/${tenant}/app/`;

function cookie(name: string): string {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

let csrf = "";

function csrfToken(): string {
  return csrf || cookie("tessera_csrf");
}

async function post(path: string, body: unknown): Promise<any> {
  const response = await fetch(`/t/${tenant}/${path}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify(body),
  });
  let payload: any;
  try {
    payload = await response.json();
  } catch {
    throw new ApiError(`HTTP ${response.status}`, response.status === 401 ? "UNAUTHENTICATED" : "INTERNAL");
  }
  return payload;
}

function firstError(payload: any): ApiError | null {
  const e = payload?.errors?.[0];
  if (!e) return null;
  const ext = e.extensions ?? {};
  return new ApiError(e.message ?? "error", ext.code ?? "INTERNAL", ext.errors ?? []);
}

export async function login(email: string, password: string): Promise<void> {
  const payload = await post("auth/login", { email, password });
  const err = firstError(payload);
  if (err) throw err;
  csrf = payload.csrfToken ?? "";
}

export async function logout(): Promise<void> {
  try {
    await post("auth/logout", {});
  } finally {
    csrf = "";
  }
}

/** Run one GraphQL operation; the first error (if any) is thrown as an ApiError. */
export async function gql<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const payload = await post("graphql", { query, variables });
  const err = firstError(payload);
  if (err) throw err;
  return payload.data as T;
}

/** Download a file the server renders (PDF, spreadsheet) with the session cookie. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const response = await fetch(`/t/${tenant}/${path}`, { credentials: "same-origin" });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      message = (await response.json())?.errors?.[0]?.message ?? message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(message, "DOWNLOAD_FAILED");
  }
  const blob = await response.blob();
  const disposition = response.headers.get("content-disposition") ?? "";
  const named = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = named ? decodeURIComponent(named[1]) : fallbackName;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
