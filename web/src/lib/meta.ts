// The tenant's model as the screens use it, read from GraphQL `meta`.
import { gql } from "./api";

export interface Option {
  value: string;
  label: string;
}

export interface Field {
  key: string;
  graphqlName: string;
  type: string;
  valueType: string;
  label: string;
  help: string | null;
  defaultValue: string | null;
  required: boolean;
  readOnly: boolean;
  min: string | null;
  max: string | null;
  minLength: number | null;
  maxLength: number | null;
  pattern: string | null;
  target: string | null;
  options: Option[];
}

export interface ActionLink {
  /** A field of the action's result holding a record id, e.g. opportunityId. */
  field: string;
  entity: string;
}

/** A plugin action on one record (a mutation taking the record's id), e.g. convertLead. */
export interface RecordAction {
  name: string;
  label: string;
  returnsObject: boolean;
  links: ActionLink[];
}

export type EntityAction = "create" | "read" | "update" | "delete" | "transition" | "run";

export interface Entity {
  key: string;
  typeName: string;
  queryName: string;
  listQueryName: string;
  /** Bookkeeping a plugin or the core keeps for itself: not in the navigation. */
  internal: boolean;
  label: string;
  pluralLabel: string;
  titleField: string | null;
  fields: Field[];
  byKey: Map<string, Field>;
  /** What the caller's roles allow on this entity's records. */
  allowedActions: EntityAction[];
  recordActions: RecordAction[];
}

export interface FormField {
  field: string;
  widget: string | null;
  width: number | null;
  visibleWhen: string | null;
  requiredWhen: string | null;
}

export interface FormSection {
  key: string;
  label: string;
  columns: number;
  fields: FormField[];
}

export interface Form {
  entity: string;
  listColumns: string[];
  sections: FormSection[];
}

export interface State {
  key: string;
  label: string;
  initial: boolean;
  final: boolean;
}

export interface WorkflowTransition {
  key: string;
  label: string;
  sources: string[] | null;
  to: string;
  needsApproval: boolean;
}

export interface Workflow {
  key: string;
  label: string;
  entity: string;
  field: string;
  states: State[];
  transitions: WorkflowTransition[];
}

export interface Me {
  id: string;
  email: string;
  name: string;
  roles: string[];
  locale: string;
}

export interface Tenant {
  key: string;
  name: string;
  locales: string[];
  defaultLocale: string;
  currency: string;
  timezone: string;
  plugins: string[];
}

export interface Model {
  tenant: Tenant;
  me: Me;
  entities: Entity[];
  byKey: Map<string, Entity>;
  forms: Map<string, Form>;
  workflows: Workflow[];
  locale: string;
}

const META = `query Meta($locale: String) {
  meta {
    tenant { key name(locale: $locale) locales defaultLocale currency timezone plugins }
    me { id email name roles locale }
    entities {
      key typeName queryName listQueryName internal titleField allowedActions
      label(locale: $locale) pluralLabel(locale: $locale)
      recordActions { name label(locale: $locale) returnsObject links { field entity } }
      fields { key graphqlName type valueType label(locale: $locale) help(locale: $locale) defaultValue required readOnly
               min max minLength maxLength pattern target
               options { value label(locale: $locale) } }
    }
    forms { entity listColumns
            sections { key label(locale: $locale) columns
                       fields { field widget width visibleWhen requiredWhen } } }
    workflows { key label entity field
                states { key label initial final }
                transitions { key label sources to needsApproval } }
  }
}`;

export async function loadModel(locale: string | null): Promise<Model> {
  const data = await gql<{ meta: any }>(META, { locale });
  const meta = data.meta;
  const entities: Entity[] = meta.entities.map((e: any) => ({
    ...e,
    byKey: new Map(e.fields.map((f: Field) => [f.key, f])),
  }));
  return {
    tenant: meta.tenant,
    me: meta.me,
    entities,
    byKey: new Map(entities.map((e) => [e.key, e])),
    forms: new Map(meta.forms.map((f: Form) => [f.entity, f])),
    workflows: meta.workflows,
    locale: locale ?? meta.me.locale ?? meta.tenant.defaultLocale,
  };
}

/** Whether the caller's roles allow `action` on records of `entity`. */
export function can(entity: Entity | undefined, action: EntityAction): boolean {
  return !!entity && entity.allowedActions.includes(action);
}

/** The workflow that runs on an entity, if any. */
export function workflowOf(model: Model, entity: string): Workflow | undefined {
  return model.workflows.find((w) => w.entity === entity);
}

/** The form of an entity, or one made from its fields when the config has none. */
export function formOf(model: Model, entity: Entity): Form {
  const configured = model.forms.get(entity.key);
  if (configured) return configured;
  return {
    entity: entity.key,
    listColumns: entity.fields.slice(0, 5).map((f) => f.key),
    sections: [
      {
        key: "main",
        label: entity.label,
        columns: 2,
        fields: entity.fields.map((f) => ({
          field: f.key,
          widget: f.valueType === "long_text" ? "textarea" : null,
          width: null,
          visibleWhen: null,
          requiredWhen: null,
        })),
      },
    ],
  };
}

/** The list columns: the form's, else the title field and the first few fields. */
export function listColumns(model: Model, entity: Entity): Field[] {
  const keys = formOf(model, entity).listColumns;
  return keys.map((k) => entity.byKey.get(k)).filter((f): f is Field => !!f);
}

/** The field a kanban groups an entity by: its workflow's field, else a stage/status enum. */
export function boardField(model: Model, entity: Entity): { field: Field; workflow?: Workflow } | null {
  const wf = workflowOf(model, entity.key);
  if (wf) {
    const field = entity.byKey.get(wf.field);
    return field ? { field, workflow: wf } : null;
  }
  for (const key of ["stage", "status"]) {
    const field = entity.byKey.get(key);
    if (field && field.valueType === "enum" && !field.readOnly) return { field };
  }
  return null;
}
