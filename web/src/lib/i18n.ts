// The screens' own words (labels of data come from the tenant's config).
// Every catalog has every key (tests/test_screens_i18n.py checks it for the
// locales the demo tenants use): a missing word would show in English.
type Words = Record<string, string>;

// English (also en-PH).
const en: Words = {
  signIn: "Sign in", email: "Email", password: "Password", loginFailed: "Sign-in failed", signOut: "Sign out",
  language: "Language", menu: "Menu", skipToContent: "Skip to content", new: "New", newOf: "New {entity}",
  save: "Save", saved: "Saved", cancel: "Cancel", edit: "Edit", delete: "Delete",
  confirmDelete: "Delete this record?", reload: "Reload", notFound: "No such record, or you may not see it.",
  filter: "Filter", addFilter: "Add filter", clearFilters: "Clear", apply: "Apply", field: "Field",
  operator: "Operator", value: "Value", removeFilter: "Remove filter", remove: "Remove", opContains: "contains",
  opIsNull: "is empty", opNotNull: "has a value", yes: "Yes", no: "No", choose: "— choose —", sortBy: "Sort by {f}",
  nextPage: "Next page", prevPage: "Previous page", page: "Page {n}", total: "{n} records", noRecords: "No records",
  loading: "Loading…", none: "Nothing here", noMatches: "No matches", searchFor: "Search {f}",
  savedViews: "Saved views", saveView: "Save view", viewName: "View name", defaultView: "All records",
  deleteView: "Delete view", required: "This field is required", fixErrors: "Please correct the highlighted fields.",
  conflict: "Someone else changed this record after you opened it (now version {v}). Your changes were not saved. Reload to see their changes, then apply yours again.",
  approvalPending: "An approval is pending.", fillInFirst: "Fill in first: {fields}.",
  transitions: "Actions", actionDone: "{action}: done", approval: "Approval", approve: "Approve", reject: "Reject",
  approved: "Approved", rejected: "Rejected", pending: "Pending", requestedBy: "Requested by", comment: "Comment",
  commentRequired: "A comment is required", noPermission: "Your roles do not allow this.", fields: "Details",
  history: "History", timeline: "Activities", addRelated: "Add related records", open: "Open",
  changedBy: "{who} · {when}", system: "system", audit_create: "created", audit_update: "changed",
  audit_state: "state changed", audit_approval_requested: "approval requested: {transition}", audit_approval_approved: "approved: {transition}", audit_approval_rejected: "rejected: {transition}", audit_approval_withdrawn: "approval withdrawn: {transition}", audit_notify_skipped: "message not sent (refused)",
  audit_delete: "deleted", kanban: "Board", list: "List", moveRefused: "Move refused: {reason}",
  moved: "Moved to {state}", inbox: "My tasks", approvals: "My approvals", overdue: "Overdue", today: "Today",
  tomorrow: "Tomorrow", dashboard: "Dashboard", pipeline: "Pipeline by stage", forecast: "Forecast by month",
  perRep: "Activities per rep", aging: "Receivables aging", cash: "Cash in / out by month", weighted: "Weighted",
  doneActivities: "Completed activities", outstanding: "Outstanding", notDue: "Not yet due",
  days: "{a}–{b} days overdue", daysOver: "over {a} days overdue", asOf: "As of {date}", amountIn: "In",
  amountOut: "Out", firstRecords: "First {n} records only", noData: "No data yet", figures: "Figures",
  downloadPdf: "Download PDF", exportExcel: "Export to Excel", street: "Street", city: "City", region: "Region",
  postalCode: "Postal code", country: "Country", amount: "Amount", currency: "Currency",
};

// 简体中文 (zh-CN).
const zh: Words = {
  signIn: "登录", email: "邮箱", password: "密码", loginFailed: "登录失败", signOut: "退出", language: "语言", menu: "菜单",
  skipToContent: "跳到正文", new: "新建", newOf: "新建{entity}", save: "保存", saved: "已保存", cancel: "取消", edit: "编辑",
  delete: "删除", confirmDelete: "删除此记录？", reload: "重新加载", notFound: "记录不存在，或您无权查看。", filter: "筛选", addFilter: "添加条件",
  clearFilters: "清除", apply: "应用", field: "字段", operator: "运算符", value: "值", removeFilter: "移除条件", remove: "移除",
  opContains: "包含", opIsNull: "为空", opNotNull: "不为空", yes: "是", no: "否", choose: "— 请选择 —", sortBy: "按{f}排序",
  nextPage: "下一页", prevPage: "上一页", page: "第 {n} 页", total: "共 {n} 条", noRecords: "没有记录", loading: "加载中…",
  none: "暂无", noMatches: "无匹配结果", searchFor: "搜索{f}", savedViews: "已保存视图", saveView: "保存视图", viewName: "视图名称",
  defaultView: "全部记录", deleteView: "删除视图", required: "此字段为必填项", fixErrors: "请更正标出的字段。",
  conflict: "您打开此记录后，其他人已修改了它（当前版本 {v}）。您的修改未保存。请重新加载查看对方的修改，然后再次修改。",
  approvalPending: "正在等待审批。", fillInFirst: "请先填写：{fields}。",
  transitions: "操作", actionDone: "已完成：{action}",
  approval: "审批", approve: "批准", reject: "驳回", approved: "已批准", rejected: "已驳回", pending: "待审批", requestedBy: "申请人",
  comment: "意见", commentRequired: "必须填写意见", noPermission: "您的角色无权执行此操作。", fields: "详情", history: "修改历史",
  timeline: "活动", addRelated: "添加相关记录", open: "打开", changedBy: "{who} · {when}", system: "系统", audit_create: "创建",
  audit_state: "状态变更", audit_approval_requested: "提交审批：{transition}", audit_approval_approved: "审批通过：{transition}", audit_approval_rejected: "审批驳回：{transition}", audit_approval_withdrawn: "撤回审批：{transition}", audit_notify_skipped: "消息未发送（对方拒收）",
  audit_update: "修改", audit_delete: "删除", kanban: "看板", list: "列表", moveRefused: "无法移动：{reason}",
  moved: "已移至 {state}", inbox: "我的任务", approvals: "我的审批", overdue: "已逾期", today: "今天", tomorrow: "明天",
  dashboard: "仪表板", pipeline: "各阶段商机", forecast: "按月预测", perRep: "各销售活动数", aging: "应收账龄", cash: "按月收支",
  weighted: "加权金额", doneActivities: "已完成的活动", outstanding: "未收金额", notDue: "未到期", days: "逾期 {a}–{b} 天",
  daysOver: "逾期超过 {a} 天", asOf: "截至 {date}", amountIn: "收入", amountOut: "支出", firstRecords: "仅统计前 {n} 条记录",
  noData: "暂无数据", figures: "数据明细", downloadPdf: "下载 PDF", exportExcel: "导出 Excel", street: "街道", city: "城市",
  region: "省/地区", postalCode: "邮编", country: "国家", amount: "金额", currency: "币种",
};

// Español (es-ES).
const es: Words = {
  signIn: "Iniciar sesión", email: "Correo electrónico", password: "Contraseña",
  loginFailed: "No se pudo iniciar sesión", signOut: "Cerrar sesión", language: "Idioma", menu: "Menú",
  skipToContent: "Ir al contenido", new: "Nuevo", newOf: "Nuevo: {entity}", save: "Guardar", saved: "Guardado",
  cancel: "Cancelar", edit: "Editar", delete: "Eliminar", confirmDelete: "¿Eliminar este registro?",
  reload: "Recargar", notFound: "El registro no existe o no tiene acceso a él.", filter: "Filtrar",
  addFilter: "Añadir filtro", clearFilters: "Quitar", apply: "Aplicar", field: "Campo", operator: "Operador",
  value: "Valor", removeFilter: "Quitar filtro", remove: "Quitar", opContains: "contiene", opIsNull: "está vacío",
  opNotNull: "tiene valor", yes: "Sí", no: "No", choose: "— elegir —", sortBy: "Ordenar por {f}",
  nextPage: "Página siguiente", prevPage: "Página anterior", page: "Página {n}", total: "{n} registros",
  noRecords: "Sin registros", loading: "Cargando…", none: "Nada por aquí", noMatches: "Sin coincidencias",
  searchFor: "Buscar {f}", savedViews: "Vistas guardadas", saveView: "Guardar vista", viewName: "Nombre de la vista",
  defaultView: "Todos los registros", deleteView: "Eliminar vista", required: "Este campo es obligatorio",
  fixErrors: "Corrija los campos marcados.",
  conflict: "Otra persona modificó este registro después de que lo abriera (ahora versión {v}). Sus cambios no se guardaron. Recargue para ver los cambios y vuelva a aplicar los suyos.",
  approvalPending: "Hay una aprobación pendiente.", fillInFirst: "Rellene primero: {fields}.",
  transitions: "Acciones", actionDone: "{action}: hecho", approval: "Aprobación", approve: "Aprobar",
  reject: "Rechazar", approved: "Aprobada", rejected: "Rechazada", pending: "Pendiente",
  requestedBy: "Solicitado por", comment: "Comentario", commentRequired: "Se requiere un comentario",
  noPermission: "Sus roles no lo permiten.", fields: "Detalles", history: "Historial", timeline: "Actividades",
  addRelated: "Añadir registros relacionados", open: "Abrir", changedBy: "{who} · {when}", system: "sistema",
  audit_state: "cambio de estado", audit_approval_requested: "aprobación solicitada: {transition}", audit_approval_approved: "aprobado: {transition}", audit_approval_rejected: "rechazado: {transition}", audit_approval_withdrawn: "aprobación retirada: {transition}", audit_notify_skipped: "mensaje no enviado (rechazado)",
  audit_create: "creado", audit_update: "modificado", audit_delete: "eliminado", kanban: "Tablero", list: "Lista",
  moveRefused: "Movimiento rechazado: {reason}", moved: "Movido a {state}", inbox: "Mis tareas",
  approvals: "Mis aprobaciones", overdue: "Vencidas", today: "Hoy", tomorrow: "Mañana", dashboard: "Panel",
  pipeline: "Embudo por etapa", forecast: "Previsión por mes", perRep: "Actividades por comercial",
  aging: "Antigüedad de saldos", cash: "Cobros y pagos por mes", weighted: "Ponderado",
  doneActivities: "Actividades realizadas", outstanding: "Pendiente de cobro", notDue: "Sin vencer",
  days: "Vencido {a}–{b} días", daysOver: "Vencido más de {a} días", asOf: "A fecha {date}", amountIn: "Cobros",
  amountOut: "Pagos", firstRecords: "Solo los primeros {n} registros", noData: "Aún no hay datos", figures: "Cifras",
  downloadPdf: "Descargar PDF", exportExcel: "Exportar a Excel", street: "Calle", city: "Ciudad",
  region: "Provincia", postalCode: "Código postal", country: "País", amount: "Importe", currency: "Moneda",
};

// Tagalog (tl-PH): loanwords Filipinos use in business software (email, record, invoice) stay.
const tl: Words = {
  signIn: "Mag-sign in", email: "Email", password: "Password", loginFailed: "Hindi nakapag-sign in",
  signOut: "Mag-sign out", language: "Wika", menu: "Menu", skipToContent: "Lumaktaw sa nilalaman", new: "Bago",
  newOf: "Bagong {entity}", save: "I-save", saved: "Na-save na", cancel: "Kanselahin", edit: "I-edit",
  delete: "Burahin", confirmDelete: "Burahin ang record na ito?", reload: "I-reload",
  notFound: "Walang ganitong record, o hindi mo ito puwedeng makita.", filter: "Salain",
  addFilter: "Magdagdag ng filter", clearFilters: "Alisin lahat", apply: "Ilapat", field: "Field",
  operator: "Operator", value: "Halaga", removeFilter: "Alisin ang filter", remove: "Alisin",
  opContains: "naglalaman ng", opIsNull: "walang laman", opNotNull: "may laman", yes: "Oo", no: "Hindi",
  choose: "— pumili —", sortBy: "Ayusin ayon sa {f}", nextPage: "Susunod na pahina", prevPage: "Nakaraang pahina",
  page: "Pahina {n}", total: "{n} na record", noRecords: "Walang record", loading: "Naglo-load…",
  none: "Wala pa rito", noMatches: "Walang tugma", searchFor: "Hanapin ang {f}", savedViews: "Mga naka-save na view",
  saveView: "I-save ang view", viewName: "Pangalan ng view", defaultView: "Lahat ng record",
  deleteView: "Burahin ang view", required: "Kailangan ang field na ito",
  fixErrors: "Pakitama ang mga field na may marka.",
  conflict: "May ibang nagbago sa record na ito matapos mo itong buksan (bersyon {v} na ngayon). Hindi na-save ang mga binago mo. I-reload para makita ang binago nila, saka ilapat muli ang sa iyo.",
  approvalPending: "May hinihintay pang pag-apruba.", fillInFirst: "Punan muna ang: {fields}.",
  transitions: "Mga aksyon", actionDone: "Tapos na: {action}", approval: "Pag-apruba", approve: "Aprubahan",
  reject: "Tanggihan", approved: "Aprubado", rejected: "Tinanggihan", pending: "Naghihintay ng pag-apruba",
  requestedBy: "Hiniling ni", comment: "Komento", commentRequired: "Kailangan ng komento",
  noPermission: "Hindi ito pinapayagan ng iyong role.", fields: "Mga detalye", history: "Kasaysayan",
  timeline: "Mga aktibidad", addRelated: "Magdagdag ng kaugnay na record", open: "Buksan",
  changedBy: "{who} · {when}", system: "sistema", audit_create: "ginawa", audit_update: "binago",
  audit_state: "binago ang estado", audit_approval_requested: "humiling ng pag-apruba: {transition}", audit_approval_approved: "inaprubahan: {transition}", audit_approval_rejected: "tinanggihan: {transition}", audit_approval_withdrawn: "binawi ang pag-apruba: {transition}", audit_notify_skipped: "hindi naipadala ang mensahe (tinanggihan)",
  audit_delete: "binura", kanban: "Board", list: "Listahan", moveRefused: "Hindi nailipat: {reason}",
  moved: "Nailipat sa {state}", inbox: "Mga gawain ko", approvals: "Mga aaprubahan ko",
  overdue: "Lampas na sa takdang araw", today: "Ngayong araw", tomorrow: "Bukas", dashboard: "Dashboard",
  pipeline: "Pipeline ayon sa yugto", forecast: "Forecast bawat buwan", perRep: "Mga aktibidad bawat sales rep",
  aging: "Aging ng mga receivable", cash: "Pumasok at lumabas na pera bawat buwan", weighted: "Weighted na halaga",
  doneActivities: "Mga natapos na aktibidad", outstanding: "Hindi pa nababayaran", notDue: "Hindi pa dapat bayaran",
  days: "Lampas nang {a}–{b} araw", daysOver: "Lampas nang higit {a} araw", asOf: "Hanggang {date}",
  amountIn: "Pumasok", amountOut: "Lumabas", firstRecords: "Unang {n} na record lamang", noData: "Wala pang datos",
  figures: "Mga numero", downloadPdf: "I-download ang PDF", exportExcel: "I-export sa Excel", street: "Kalye",
  city: "Lungsod", region: "Lalawigan", postalCode: "ZIP code", country: "Bansa", amount: "Halaga",
  currency: "Currency",
};

const WORDS: Record<string, Words> = { en, zh, es, tl };

export function words(locale: string): Words {
  // Browsers in the Philippines may say "fil" (Filipino) for the Tagalog-based language.
  const language = locale.toLowerCase().startsWith("fil") ? "tl" : locale.slice(0, 2);
  return WORDS[language] ?? en;
}

/** A word of the screens in `locale`, with `{name}` placeholders filled. */
export function t(locale: string, key: string, vars: Record<string, string | number> = {}): string {
  const text = words(locale)[key] ?? en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

/** A language's own name, for the locale switch. */
export function localeName(locale: string): string {
  try {
    const name = new Intl.DisplayNames([locale], { type: "language" }).of(locale);
    return name ? `${name}` : locale;
  } catch {
    return locale;
  }
}
