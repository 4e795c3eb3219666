// Small DOM helpers: elements, messages, errors in the API's one shape, dates.

/** h("p", {class: "x", onclick: fn}, "text", child) -> an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

/** Append children, skipping null/undefined/false (the DOM's own append would write "null"). */
export function add(el, ...children) { append(el, children); return el; }

/** Replace an element's children, skipping null/undefined/false. */
export function replace(el, ...children) { el.replaceChildren(); append(el, children); return el; }

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let uniqueCounter = 0;
export const uid = (prefix) => `${prefix}-${++uniqueCounter}`;

/** The page's main content replaced; focus moves to its heading (screen readers hear the new page). */
export function render(...children) {
  const main = document.getElementById("main");
  main.replaceChildren();
  append(main, children);
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: false });
    document.title = `${heading.textContent} · Roster Sync`;
  }
}

/** An API error (ApiError) or any failure as a visible alert. */
export function errorBox(error, extra) {
  const code = error?.code || "error";
  return h("div", { class: "alert error", role: "alert", dataset: { code } },
    h("strong", {}, errorTitle(error)), " ", error?.message || String(error),
    h("span", { class: "code" }, ` (${code})`), extra || null);
}

function errorTitle(error) {
  switch (error?.status) {
    case 401: return "Signed out.";
    case 403: return "Not allowed.";
    case 404: return "Not found.";
    case 409: return "Conflict.";
    case 422: return "Please check.";
    case 429: return "Not yet.";
    case 0: return "No answer.";
    default: return "Something went wrong.";
  }
}

export function notice(kind, ...children) {
  return h("div", { class: `alert ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
}

/** A labelled field; `input` is the control. The error slot sits right under it. */
export function field(label, input, hint) {
  const id = input.id || uid("f");
  input.id = id;
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  const errorEl = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  input.setAttribute("aria-describedby", [hintEl && hintEl.id, errorEl.id].filter(Boolean).join(" "));
  return h("div", { class: "field", dataset: { field: input.name || "" } },
    h("label", { for: id }, label), hintEl, input, errorEl);
}

/** Show an error next to a field (by the input's name) in `form`; false when no such field. */
export function showFieldError(form, name, message) {
  const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
  if (!input) return false;
  const errorEl = document.getElementById(`${input.id}-error`);
  if (!errorEl) return false;
  errorEl.textContent = message;
  errorEl.hidden = false;
  input.setAttribute("aria-invalid", "true");
  return true;
}

export function clearFieldErrors(form) {
  form.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; el.hidden = true; });
  form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  form.querySelectorAll(".form-error").forEach((el) => el.replaceChildren());
}

/**
 * Render an API error into a form: next to the field it concerns (by the error's `field`),
 * and always in the form's error area with its code, focusing the field.
 */
export function showFormError(form, error) {
  clearFieldErrors(form);
  let placed = false;
  if (error.field) placed = showFieldError(form, error.field, error.message);
  const area = form.querySelector(".form-error");
  if (area && placed) {
    // The message is next to its field; here only what and where, with the code.
    const input = form.querySelector(`[name="${CSS.escape(error.field)}"]`);
    const label = form.querySelector(`label[for="${CSS.escape(input.id)}"]`);
    area.replaceChildren(h("div", { class: "alert error", role: "alert", dataset: { code: error.code } },
      h("strong", {}, errorTitle(error)), ` Nothing was saved: see ${label ? `“${label.textContent}”` : "the field marked"} above.`,
      h("span", { class: "code" }, ` (${error.code})`)));
  } else if (area) area.replaceChildren(errorBox(error));
  const target = placed ? form.querySelector(`[name="${CSS.escape(error.field)}"]`) : area;
  if (target) { if (!placed) target.setAttribute("tabindex", "-1"); target.focus(); }
}

export function formError() {
  return h("div", { class: "form-error", "aria-live": "assertive" });
}

/** A button that shows it is busy while `work` runs (and cannot be pressed twice). */
export async function busy(button, work, label = "Working…") {
  const text = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try { return await work(); } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = text;
  }
}

export function when(iso, timeZone) {
  if (!iso) return "—";
  const date = new Date(iso);
  const options = { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  if (timeZone) options.timeZone = timeZone;
  try { return new Intl.DateTimeFormat(undefined, options).format(date); }
  catch { return date.toISOString(); }
}

export function statusBadge(status) {
  const words = { queued: "Queued", running: "Running", succeeded: "Succeeded", failed: "Failed",
    needs_review: "Needs review", connected: "Connected", active: "Active", inactive: "Inactive" };
  return h("span", { class: `badge badge-${status}` }, words[status] || status);
}

/** Ask for confirmation in the page's <dialog>; resolves true only on "Confirm". */
export function confirmDialog(title, body, confirmLabel) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-body").replaceChildren(...[body].flat());
  document.getElementById("confirm-ok").textContent = confirmLabel;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok");
      if (opener && opener.isConnected) opener.focus();
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

export const plural = (n, one, many = `${one}s`) => `${n.toLocaleString()} ${n === 1 ? one : many}`;
