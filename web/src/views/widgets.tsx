// Small controls shared by the views: an inline comment box and a search-as-you-type picker.
import { useEffect, useRef, useState } from "preact/hooks";
import { useSession } from "../app";
import { errorText } from "../lib/api";
import type { Ref } from "../lib/formvalues";

/** A labelled comment box with its own submit and cancel buttons (instead of window.prompt).
 * Escape cancels; an empty required comment and a refusal from the server are shown under it. */
export function CommentForm({ id, label, submitLabel, required, onSubmit, onCancel }: {
  id: string;
  label: string;
  submitLabel: string;
  required: boolean;
  onSubmit: (comment: string) => Promise<void>;
  onCancel: () => void;
}) {
  const { t } = useSession();
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const box = useRef<HTMLTextAreaElement>(null);
  useEffect(() => box.current?.focus(), []);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (required && !text.trim()) {
      setError(t("commentRequired"));
      box.current?.focus();
      return;
    }
    setBusy(true);
    setError("");
    try {
      await onSubmit(text.trim());
    } catch (err) {
      setError(errorText(err));
      box.current?.focus();
    } finally {
      setBusy(false);
    }
  };
  const errorId = `${id}-error`;
  return (
    <form class="comment-form" onSubmit={submit} data-testid="comment-form"
      onKeyDown={(e) => { if (e.key === "Escape") { e.preventDefault(); onCancel(); } }}>
      <label for={id}>{label}{required && <span aria-hidden="true"> *</span>}</label>
      <textarea id={id} ref={box} rows={3} value={text} aria-required={required ? "true" : undefined}
        aria-invalid={error ? "true" : undefined} aria-describedby={error ? errorId : undefined}
        onInput={(e) => { setText((e.target as HTMLTextAreaElement).value); if (error) setError(""); }} />
      {error && <p id={errorId} class="field-error" role="alert">{error}</p>}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>{submitLabel}</button>
        <button type="button" onClick={onCancel}>{t("cancel")}</button>
      </div>
    </form>
  );
}

/** A combobox that searches as you type (after a short pause) and picks one or more refs.
 * Arrow keys move through the options, Enter picks, Escape closes. */
export function SearchPicker({ common, many, chosen, placeholder, search, onChange }: {
  common: Record<string, any>;
  many: boolean;
  chosen: Ref[];
  placeholder: string;
  search: (text: string) => Promise<Ref[]>;
  onChange: (chosen: Ref[]) => void;
}) {
  const { t } = useSession();
  const [text, setText] = useState("");
  const [options, setOptions] = useState<Ref[] | null>(null);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const listId = `${common.id}-options`;

  useEffect(() => {
    if (!open) return;
    let live = true;
    const timer = setTimeout(() => {
      search(text)
        .then((found) => { if (live) { setOptions(found.filter((o) => !chosen.some((c) => c.id === o.id))); setActive(0); } })
        .catch(() => live && setOptions([]));
    }, 200);
    return () => { live = false; clearTimeout(timer); };
  }, [text, open]);

  const pick = (r: Ref) => {
    onChange(many ? [...chosen.filter((c) => c.id !== r.id), r] : [r]);
    setText("");
    setOpen(false);
  };
  const shown = open && options !== null;
  const onKey = (e: KeyboardEvent) => {
    const n = options?.length ?? 0;
    if (e.key === "ArrowDown") { e.preventDefault(); setOpen(true); setActive(n ? (active + 1) % n : 0); }
    else if (e.key === "ArrowUp") { e.preventDefault(); setActive(n ? (active - 1 + n) % n : 0); }
    else if (e.key === "Enter" && shown && options![active]) { e.preventDefault(); pick(options![active]); }
    else if (e.key === "Escape" && open) { e.preventDefault(); setOpen(false); }
  };
  return (
    <div class="picker">
      {chosen.map((c) => (
        <span class="chip" data-value>
          {c.title}
          {!common.disabled && (
            <button type="button" aria-label={`${t("remove")}: ${c.title}`}
              onClick={() => {
                onChange(chosen.filter((x) => x.id !== c.id));
                // The button is gone: the search box takes the focus.
                setTimeout(() => document.getElementById(common.id)?.focus(), 0);
              }}>✕</button>
          )}
        </span>
      ))}
      {(many || chosen.length === 0) && (
        <input {...common} type="search" role="combobox" aria-expanded={shown} aria-controls={listId}
          aria-autocomplete="list" aria-activedescendant={shown && options!.length ? `${listId}-${active}` : undefined}
          autocomplete="off" placeholder={placeholder} value={text}
          onFocus={() => setOpen(true)}
          onBlur={() => setTimeout(() => setOpen(false), 200)}
          onInput={(e) => { setText((e.target as HTMLInputElement).value); setOpen(true); }}
          onKeyDown={onKey} />
      )}
      {shown && (
        <ul id={listId} role="listbox" class="options">
          {options!.length === 0 ? <li class="help" role="presentation">{t("noMatches")}</li> : options!.map((o, i) => (
            <li id={`${listId}-${i}`} role="option" aria-selected={i === active} class={i === active ? "active" : ""} data-value
              onMouseDown={(e) => { e.preventDefault(); pick(o); }}>{o.title}</li>
          ))}
        </ul>
      )}
    </div>
  );
}
