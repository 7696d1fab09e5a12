import { useEffect, useState } from "preact/hooks";
import { useSession } from "../app";
import { ApiError, gql } from "../lib/api";
import { formatDateTime } from "../lib/format";
import { ApprovalCard } from "./record";

const GROUPS = [
  ["OVERDUE", "overdue"],
  ["TODAY", "today"],
  ["TOMORROW", "tomorrow"],
] as const;

/** The caller's open tasks: overdue, due today, due tomorrow. */
export function TasksInbox() {
  const { model, t, notify } = useSession();
  const [tasks, setTasks] = useState<Record<string, any[]> | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    gql(`{ ${GROUPS.map(([due, key]) => `${key}: myTasks(due: ${due}) { id version subject dueAt relatedEntity relatedId }`).join(" ")} }`)
      .then(setTasks)
      .catch((e) => notify(e instanceof ApiError ? e.message : String(e), "error"));
  }, [tick]);
  const done = async (id: string) => {
    try {
      await gql(`mutation D($id: ID!) { updateTask(id: $id, input: {done: true}) { id } }`, { id });
      setTick(tick + 1);
    } catch (e) {
      notify(e instanceof ApiError ? e.message : String(e), "error");
    }
  };
  const doneLabel = model.byKey.get("task")?.byKey.get("done")?.label ?? "✓";
  return (
    <section aria-labelledby="tasks-title">
      <h1 id="tasks-title">{t("inbox")}</h1>
      {!tasks ? <p role="status">{t("loading")}</p> : GROUPS.map(([, key]) => (
        <section class="inbox-group" aria-labelledby={`g-${key}`} data-group={key}>
          <h2 id={`g-${key}`}>{t(key)} ({tasks[key].length})</h2>
          {tasks[key].length === 0 ? <p class="help">{t("none")}</p> : (
            <ul>
              {tasks[key].map((task) => (
                <li>
                  <span>
                    <a href={`e/task/${task.id}`}>{task.subject}</a>
                    <span class="help"> · {formatDateTime(task.dueAt, model.locale, model.tenant.timezone)}</span>
                    {task.relatedEntity && task.relatedId && model.byKey.has(task.relatedEntity) && (
                      <> · <a href={`e/${task.relatedEntity}/${task.relatedId}`}>{model.byKey.get(task.relatedEntity)!.label}</a></>
                    )}
                  </span>
                  <button type="button" onClick={() => done(task.id)}>{doneLabel}</button>
                </li>
              ))}
            </ul>
          )}
        </section>
      ))}
    </section>
  );
}

/** Approvals waiting for the caller's decision. */
export function ApprovalsInbox() {
  const { model, t, notify } = useSession();
  const [items, setItems] = useState<any[] | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    gql(`{ approvalInbox { id entity recordId status transitionLabel step requestedAt requestedBy { name }
      steps { index label approvers { userId decision comment user { name } } } } }`)
      .then((d) => setItems(d.approvalInbox))
      .catch((e) => notify(e instanceof ApiError ? e.message : String(e), "error"));
  }, [tick]);
  return (
    <section aria-labelledby="approvals-title">
      <h1 id="approvals-title">{t("approvals")}</h1>
      {!items ? <p role="status">{t("loading")}</p> : items.length === 0 ? <p>{t("none")}</p> : items.map((a) => (
        <div data-testid="inbox-approval">
          <p><a href={`e/${a.entity}/${a.recordId}`}>{model.byKey.get(a.entity)?.label ?? a.entity} · {t("open")}</a></p>
          <ApprovalCard approvals={[a]} onDecided={() => setTick(tick + 1)} />
        </div>
      ))}
    </section>
  );
}
