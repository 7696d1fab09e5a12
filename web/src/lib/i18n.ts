// The screens' own words (labels of data come from the tenant's config).
type Words = Record<string, string>;

const en: Words = {
  signIn: "Sign in", email: "Email", password: "Password", signOut: "Sign out", language: "Language",
  menu: "Menu", records: "Records", new: "New", save: "Save", cancel: "Cancel", edit: "Edit", delete: "Delete",
  search: "Search", filter: "Filter", addFilter: "Add filter", clearFilters: "Clear", apply: "Apply",
  field: "Field", operator: "Operator", value: "Value", nextPage: "Next page", firstPage: "First page",
  total: "{n} records", noRecords: "No records", loading: "Loading…", sortAsc: "ascending", sortDesc: "descending",
  savedViews: "Saved views", saveView: "Save view", viewName: "View name", defaultView: "All records",
  deleteView: "Delete view", saved: "Saved", required: "This field is required", fixErrors: "Please correct the highlighted fields.",
  conflict: "Someone else changed this record after you opened it (now version {v}). Your changes were not saved. Reload to see their changes, then apply yours again.",
  reload: "Reload", transitions: "Actions", approval: "Approval", approve: "Approve", reject: "Reject",
  comment: "Comment", history: "History", timeline: "Activities", related: "Related", fields: "Details",
  kanban: "Board", list: "List", inbox: "My tasks", approvals: "My approvals", dashboard: "Dashboard",
  overdue: "Overdue", today: "Today", tomorrow: "Tomorrow", none: "Nothing here", open: "Open",
  pipeline: "Pipeline by stage", forecast: "Forecast by month", perRep: "Activities per rep",
  aging: "Receivables aging", cash: "Cash in / out by month", moveRefused: "Move refused: {reason}",
  moved: "Moved to {state}", downloadPdf: "Download PDF", exportExcel: "Export to Excel",
  notAvailable: "Not available yet", pending: "Pending", approved: "Approved", rejected: "Rejected",
  requestedBy: "Requested by", state: "State", changedBy: "{who} · {when}", created: "Created", updated: "Updated",
  choose: "— choose —", skipToContent: "Skip to content", street: "Street", city: "City", region: "Region",
  postalCode: "Postal code", country: "Country", amount: "Amount", currency: "Currency", confirmDelete: "Delete this record?",
  loginFailed: "Sign-in failed", amountIn: "In", amountOut: "Out", days: "{a}–{b} days", daysOver: "over {a} days",
  noPermission: "Your roles do not allow this.", back: "Back", commentRequired: "A comment is required",
  allowedNow: "Available now", by: "by", opContains: "contains", opIsNull: "is empty", opNotNull: "has a value", prevPage: "Previous page", sortBy: "Sort by {f}", removeFilter: "Remove filter", yes: "Yes", no: "No", me: "Me", searchFor: "Search {f}", page: "Page {n}",
};

const zh: Words = {
  signIn: "登录", email: "邮箱", password: "密码", signOut: "退出", language: "语言", menu: "菜单", records: "记录",
  new: "新建", save: "保存", cancel: "取消", edit: "编辑", delete: "删除", search: "搜索", filter: "筛选",
  addFilter: "添加条件", clearFilters: "清除", apply: "应用", field: "字段", operator: "运算符", value: "值",
  nextPage: "下一页", firstPage: "第一页", total: "共 {n} 条", noRecords: "没有记录", loading: "加载中…",
  sortAsc: "升序", sortDesc: "降序", savedViews: "已保存视图", saveView: "保存视图", viewName: "视图名称",
  defaultView: "全部记录", deleteView: "删除视图", saved: "已保存", required: "此字段为必填项",
  fixErrors: "请更正标出的字段。",
  conflict: "您打开此记录后，其他人已修改了它（当前版本 {v}）。您的修改未保存。请重新加载查看对方的修改，然后再次修改。",
  reload: "重新加载", transitions: "操作", approval: "审批", approve: "批准", reject: "驳回", comment: "意见",
  history: "修改历史", timeline: "活动", related: "相关记录", fields: "详情", kanban: "看板", list: "列表",
  inbox: "我的任务", approvals: "我的审批", dashboard: "仪表板", overdue: "已逾期", today: "今天", tomorrow: "明天",
  none: "暂无", open: "打开", pipeline: "各阶段商机", forecast: "按月预测", perRep: "各销售活动数",
  aging: "应收账龄", cash: "按月收支", moveRefused: "无法移动：{reason}", moved: "已移至 {state}",
  downloadPdf: "下载 PDF", exportExcel: "导出 Excel", notAvailable: "暂不可用", pending: "待审批", approved: "已批准",
  rejected: "已驳回", requestedBy: "申请人", state: "状态", changedBy: "{who} · {when}", created: "创建", updated: "修改",
  choose: "— 请选择 —", skipToContent: "跳到正文", street: "街道", city: "城市", region: "省/地区",
  postalCode: "邮编", country: "国家", amount: "金额", currency: "币种", confirmDelete: "删除此记录？",
  loginFailed: "登录失败", amountIn: "收入", amountOut: "支出", days: "{a}–{b} 天", daysOver: "超过 {a} 天",
  noPermission: "您的角色无权执行此操作。", back: "返回", commentRequired: "必须填写意见", allowedNow: "可执行", by: "由", opContains: "包含", opIsNull: "为空", opNotNull: "不为空", prevPage: "上一页", sortBy: "按{f}排序", removeFilter: "移除条件", yes: "是", no: "否", me: "我", searchFor: "搜索{f}", page: "第 {n} 页",
};

const es: Words = {
  signIn: "Iniciar sesión", email: "Correo electrónico", password: "Contraseña", signOut: "Cerrar sesión",
  language: "Idioma", menu: "Menú", records: "Registros", new: "Nuevo", save: "Guardar", cancel: "Cancelar",
  edit: "Editar", delete: "Eliminar", search: "Buscar", filter: "Filtrar", addFilter: "Añadir filtro",
  clearFilters: "Quitar", apply: "Aplicar", field: "Campo", operator: "Operador", value: "Valor",
  nextPage: "Página siguiente", firstPage: "Primera página", total: "{n} registros", noRecords: "Sin registros",
  loading: "Cargando…", sortAsc: "ascendente", sortDesc: "descendente", savedViews: "Vistas guardadas",
  saveView: "Guardar vista", viewName: "Nombre de la vista", defaultView: "Todos los registros",
  deleteView: "Eliminar vista", saved: "Guardado", required: "Este campo es obligatorio",
  fixErrors: "Corrija los campos marcados.",
  conflict: "Otra persona modificó este registro después de que lo abriera (ahora versión {v}). Sus cambios no se guardaron. Recargue para ver los cambios y vuelva a aplicar los suyos.",
  reload: "Recargar", transitions: "Acciones", approval: "Aprobación", approve: "Aprobar", reject: "Rechazar",
  comment: "Comentario", history: "Historial", timeline: "Actividades", related: "Relacionados", fields: "Detalles",
  kanban: "Tablero", list: "Lista", inbox: "Mis tareas", approvals: "Mis aprobaciones", dashboard: "Panel",
  overdue: "Vencidas", today: "Hoy", tomorrow: "Mañana", none: "Nada por aquí", open: "Abrir",
  pipeline: "Embudo por etapa", forecast: "Previsión por mes", perRep: "Actividades por comercial",
  aging: "Antigüedad de cobros", cash: "Cobros y pagos por mes", moveRefused: "Movimiento rechazado: {reason}",
  moved: "Movido a {state}", downloadPdf: "Descargar PDF", exportExcel: "Exportar a Excel",
  notAvailable: "Aún no disponible", pending: "Pendiente", approved: "Aprobada", rejected: "Rechazada",
  requestedBy: "Solicitado por", state: "Estado", changedBy: "{who} · {when}", created: "Creado", updated: "Modificado",
  choose: "— elegir —", skipToContent: "Ir al contenido", street: "Calle", city: "Ciudad", region: "Provincia",
  postalCode: "Código postal", country: "País", amount: "Importe", currency: "Moneda", confirmDelete: "¿Eliminar este registro?",
  loginFailed: "No se pudo iniciar sesión", amountIn: "Cobros", amountOut: "Pagos", days: "{a}–{b} días",
  daysOver: "más de {a} días", noPermission: "Sus roles no lo permiten.", back: "Volver",
  commentRequired: "Se requiere un comentario", allowedNow: "Disponible", by: "por", opContains: "contiene", opIsNull: "está vacío", opNotNull: "tiene valor", prevPage: "Página anterior", sortBy: "Ordenar por {f}", removeFilter: "Quitar filtro", yes: "Sí", no: "No", me: "Yo", searchFor: "Buscar {f}", page: "Página {n}",
};

const tl: Words = {
  ...en,
  signIn: "Mag-sign in", password: "Password", signOut: "Mag-sign out", language: "Wika", new: "Bago",
  save: "I-save", cancel: "Kanselahin", edit: "I-edit", delete: "Burahin", search: "Maghanap", filter: "Salain",
  nextPage: "Susunod na pahina", loading: "Naglo-load…", required: "Kailangan ang field na ito",
  inbox: "Mga gawain ko", approvals: "Mga aaprubahan ko", overdue: "Lampas na", today: "Ngayon", tomorrow: "Bukas",
  approve: "Aprubahan", reject: "Tanggihan", history: "Kasaysayan", kanban: "Board", list: "Listahan",
};

const WORDS: Record<string, Words> = { en, zh, es, tl };

export function words(locale: string): Words {
  return WORDS[locale.slice(0, 2)] ?? en;
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
