// A tiny history router: routes are paths below /t/{tenant}/app/.
import { useEffect, useState } from "preact/hooks";
import { appBase } from "./api";

export function currentRoute(): string {
  const path = location.pathname;
  return path.startsWith(appBase) ? path.slice(appBase.length) : "";
}

export function navigate(route: string, replace = false): void {
  const url = appBase + route.replace(/^\//, "");
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  dispatchEvent(new PopStateEvent("popstate"));
}

export function useRoute(): string {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    addEventListener("popstate", on);
    return () => removeEventListener("popstate", on);
  }, []);
  return route;
}

/** Follow in-app links without a page load. */
export function onLinkClick(e: MouseEvent): void {
  const a = (e.target as HTMLElement).closest?.("a");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
  const href = a.getAttribute("href") ?? "";
  if (a.hasAttribute("download") || a.target || !href || /^[a-z]+:|^\//i.test(href)) return;
  e.preventDefault();
  navigate(href);
}
