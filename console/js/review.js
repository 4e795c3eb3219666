// See before it happens: a held run's records one by one (approve all, approve the ones chosen,
// or reject), and the preview of a sync configuration before step 4 saves it.
// API: GET syncs/{runId}/held, POST .../approve {recordIds?}, POST .../reject,
// POST sync-config/preview, GET syncs/{runId}/preview (+ /records) and GET syncs/{runId}/matching.

import { busy, confirmDialog, errorBox, h, notice, plural, replace, when } from "./ui.js";

export const TYPES = ["schools", "teachers", "students", "classes", "enrollments"];
export const REASONS = {
  gone_from_sis: "Gone from the SIS",
  disabled: "Inactive in the SIS",
  out_of_selection: "Outside what is synced",
  no_class_in_selection: "No class that is synced",
  class_leaving: "Its class leaves",
  user_leaving: "Its person leaves",
  rekeyed: "Replaced by a matched school",
  term_ended: "Every term is over",
};
const DECISIONS = { pending: "Waiting", approved: "Deactivated", kept: "Kept active" };
const HELD_PAGE = 50;
const POLL_MS = 1000;
const ROLE_NAMES = { platform_admin: "a platform admin", district_admin: "a district admin" };

/** Who decided a held run, and what: the line the run page shows once it is decided. */
export function reviewLine(review, timeZone) {
  if (!review) return null;
  const who = `${ROLE_NAMES[review.role] || review.role || "an admin"} (${review.by})`;
  const what = review.decision === "rejected" ? "Rejected: nothing it held was deactivated"
    : review.decision === "approved_in_part" ? `Approved in part: ${plural(review.records || 0, "record")} deactivated, the rest kept active`
      : "Approved: every record it held was deactivated";
  return notice(review.decision === "rejected" ? "info" : "success", h("strong", { id: "review-decision", dataset: { decision: review.decision } }, `${what}. `),
    `By ${who}, ${when(review.at, timeZone)}.`);
}

/**
 * The held run's review: every record it would deactivate (paged, filtered by type and reason on
 * the API), each with a checkbox; approve all, approve the chosen, or reject.
 */
export async function heldReview(page, run, after) {
  const base = page.api.district(page.districtId);
  const runPath = `${base}/syncs/${encodeURIComponent(run.runId)}`;
  const { schools } = await page.api.get(`${base}/schools`, { status: "all", limit: 200 }).catch(() => ({ schools: [] }));
  const schoolName = new Map(schools.map((s) => [s.schoolId, s.name]));
  const decided = Boolean(run.review);
  const held = run.heldDeactivations || {};
  const total = Object.values(held).reduce((a, b) => a + b, 0);
  const type = h("select", { id: "held-type", name: "type" }, h("option", { value: "" }, "Every type"),
    // Once decided a run may no longer carry its held counts: every type is offered then.
    (total ? TYPES.filter((t) => held[t]) : TYPES).map((t) => h("option", { value: t }, held[t] ? `${t} (${held[t].toLocaleString()})` : t)));
  const reason = h("select", { id: "held-reason", name: "reason" }, h("option", { value: "" }, "Every reason"),
    Object.entries(REASONS).map(([value, text]) => h("option", { value }, text)));
  const tableWrap = h("div", { class: "table-wrap", id: "held-table" });
  const info = h("p", { class: "hint", "aria-live": "polite", id: "held-info" });
  const more = h("button", { type: "button", class: "secondary", id: "held-more", hidden: true }, "Load more records");
  const message = h("div", { "aria-live": "polite", id: "held-message" });
  const chosen = new Set();
  let records = [];
  let nextCursor = null;

  const approveAll = h("button", { type: "button", class: "danger", id: "approve" }, `Approve all ${total.toLocaleString()}`);
  const approveChosen = h("button", { type: "button", class: "danger", id: "approve-selected", disabled: true }, "Approve the 0 selected");
  const reject = h("button", { type: "button", class: "secondary", id: "reject" }, "Reject");
  const updateChosen = () => {
    approveChosen.textContent = `Approve the ${chosen.size.toLocaleString()} selected`;
    approveChosen.disabled = chosen.size === 0;
  };

  const shown = () => records;
  const allBox = h("input", { type: "checkbox", id: "held-all" });
  allBox.addEventListener("change", () => {
    shown().forEach((r) => (allBox.checked ? chosen.add(r.recordId) : chosen.delete(r.recordId)));
    draw(); updateChosen();
  });
  const draw = () => {
    const list = shown();
    allBox.checked = list.length > 0 && list.every((r) => chosen.has(r.recordId));
    allBox.disabled = decided || !list.length;
    replace(tableWrap, h("table", { class: "roster held-records" },
      h("caption", { class: "visually-hidden" }, "Records this sync would deactivate"),
      h("thead", {}, h("tr", {}, decided ? null : h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Selected")),
        ["Type", "Name", "School", "Why", "Decision"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, list.length ? list.map((r) => {
        const label = `${r.name || r.sisSourcedId || r.recordId} (${r.type})`;
        const box = h("input", { type: "checkbox", value: r.recordId, "aria-label": `Select ${label}`, checked: chosen.has(r.recordId), disabled: decided });
        box.addEventListener("change", () => { if (box.checked) chosen.add(r.recordId); else chosen.delete(r.recordId); updateChosen(); });
        return h("tr", { dataset: { id: r.recordId, reason: r.reason, type: r.type } },
          decided ? null : h("td", { dataset: { label: "Select" } }, box),
          h("td", { dataset: { label: "Type" } }, r.type),
          h("td", { dataset: { label: "Name" } }, r.name || "—", r.classTitle ? h("span", { class: "muted" }, ` in ${r.classTitle}`) : null),
          h("td", { dataset: { label: "School" } }, (r.schoolIds || []).map((id) => schoolName.get(id) || id).join(", ") || "—"),
          h("td", { dataset: { label: "Why" } }, REASONS[r.reason] || r.reason),
          h("td", { dataset: { label: "Decision" } }, DECISIONS[r.decision] || r.decision));
      }) : h("tr", {}, h("td", { colspan: decided ? 5 : 6, class: "empty" }, reason.value ? "No record was held for this reason." : "No records.")))));
    info.textContent = reason.value
      ? `${plural(records.length, "record")} held for this reason loaded${nextCursor ? "; load more to see the rest" : ""}`
      : `${records.length.toLocaleString()}${total ? ` of ${(type.value ? held[type.value] || 0 : total).toLocaleString()}` : ""} loaded` + (nextCursor ? "; load more to see the rest" : "");
    more.hidden = !nextCursor;
  };
  // Both filters are the API's. A page filtered by reason may come back short, even empty, with
  // a cursor: read on until a page has records or the list ends (a bounded number of pages).
  const load = async (append) => {
    try {
      let cursor = append ? nextCursor : undefined;
      let found = append ? records : [];
      for (let pages = 0; pages < 10; pages += 1) {
        const answer = await page.api.get(`${runPath}/held`, { type: type.value || undefined, reason: reason.value || undefined, limit: HELD_PAGE, cursor });
        found = found.concat(answer.records);
        cursor = answer.nextCursor;
        if (answer.records.length || !cursor) break;
      }
      records = found;
      nextCursor = cursor;
      message.replaceChildren();
    } catch (error) { message.replaceChildren(errorBox(error)); }
    draw();
  };
  type.addEventListener("change", () => load(false));
  reason.addEventListener("change", () => load(false));
  more.addEventListener("click", () => busy(more, () => load(true), "Loading…"));

  const decide = async (button, path, body, doneText) => {
    await busy(button, async () => {
      try {
        await page.api.post(path, body);
        message.replaceChildren(notice("success", doneText));
        after();
      } catch (error) { message.replaceChildren(errorBox(error)); }
    }, "Working…");
  };
  approveAll.addEventListener("click", async () => {
    const ok = await confirmDialog(`Deactivate all ${total.toLocaleString()} records?`,
      [h("p", {}, `Every record this sync held back becomes inactive: ${heldSummary(held)}.`),
        h("p", {}, "The app stops showing them in rosters. Nothing is erased: a record that comes back in the SIS is made active again by a later sync.")],
      "Deactivate all");
    if (ok) await decide(approveAll, `${runPath}/approve`, undefined, "Approved: the deactivations are being applied.");
  });
  approveChosen.addEventListener("click", async () => {
    const n = chosen.size;
    const ok = await confirmDialog(`Deactivate the ${plural(n, "selected record")}?`,
      [h("p", {}, `Only the ${plural(n, "record")} you selected become inactive. The other ${(total - n).toLocaleString()} stay active, and the next sync looks at them again.`),
        h("p", {}, "Nothing is erased.")],
      `Deactivate ${n.toLocaleString()}`);
    if (ok) await decide(approveChosen, `${runPath}/approve`, { recordIds: [...chosen] }, `Approved ${plural(n, "record")}: they are being deactivated.`);
  });
  reject.addEventListener("click", async () => {
    const ok = await confirmDialog("Reject this sync's deactivations?",
      [h("p", {}, "Nothing this sync held back is deactivated: every record stays active."),
        h("p", {}, "From now on every deactivation in this district waits for review (new and changed records still sync) until an admin approves a held sync. The next sync is a full one.")],
      "Reject");
    if (ok) await decide(reject, `${runPath}/reject`, undefined, "Rejected: nothing was deactivated.");
  });

  const section = h("section", { class: "card held", "aria-labelledby": "held-title", id: "held-review" },
    h("h2", { id: "held-title" }, decided ? "What this sync held back" : "Held for review"),
    decided ? null : h("p", {}, "This sync would deactivate more records than the district's limit allows, so it stopped before deactivating anything. Everything else it found is already applied."),
    total ? null : h("p", { class: "hint" }, "Each record with what was decided for it:"),
    h("ul", { id: "held-counts" }, Object.entries(held).map(([t, n]) => h("li", { dataset: { type: t } }, `${n.toLocaleString()} ${t}`))),
    h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "held-type" }, "Type"), type),
      h("div", { class: "field" }, h("label", { for: "held-reason" }, "Why"), reason)),
    h("p", { class: "hint" }, "Both filters look through every record the sync held, not only those loaded."),
    info,
    decided ? null : h("div", { class: "actions held-actions" },
      h("div", { class: "checkbox" }, allBox, h("label", { for: "held-all" }, "Select every record shown")),
      approveAll, approveChosen, reject),
    message, tableWrap, h("p", {}, more));
  await load(false);
  return section;
}

function heldSummary(held) {
  const parts = Object.entries(held).filter(([, n]) => n > 0).map(([t, n]) => `${n.toLocaleString()} ${t}`);
  return parts.join(", ") || "no records";
}

// ---------------------------------------------------------------- preview (step 4)

const CHANGE_WORDS = { created: "would be created", updated: "would be updated", unchanged: "kept as they are", deactivated: "would be deactivated" };

/**
 * "Preview these choices": runs a read-only sync of `body` (what step 4 would save), waits for it,
 * and shows per type what it would create, update, keep and deactivate, names on request, and
 * what account matching would do. `complete` lists every record instead of a sample.
 */
export async function runPreview(page, body, target, complete = false) {
  const base = page.api.district(page.districtId);
  replace(target, h("p", { class: "hint" }, h("progress", { "aria-label": "Preview running" }), " Reading the SIS for the preview…"));
  let runId;
  try {
    ({ runId } = await page.api.request("POST", `${base}/sync-config/preview`, { body, query: complete ? { complete: "true" } : undefined }));
  } catch (error) {
    replace(target, errorBox(error));
    return;
  }
  let run;
  for (;;) {
    run = await page.api.get(`${base}/syncs/${encodeURIComponent(runId)}`);
    if (!["queued", "running"].includes(run.status) || !page.current()) break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  if (!page.current()) return;
  const [preview, matching] = await Promise.all([
    page.api.get(`${base}/syncs/${encodeURIComponent(runId)}/preview`),
    page.api.get(`${base}/syncs/${encodeURIComponent(runId)}/matching`, { limit: 1 }).catch(() => null),
  ]);
  if (!preview.counts) {
    replace(target, notice("error", h("strong", {}, "The preview did not finish. "), preview.failure || run.failure || run.status));
    return;
  }
  const names = (type) => {
    const holder = h("div", { class: "preview-names" });
    const button = h("button", { type: "button", class: "link-button", dataset: { type } }, `Show the ${type}' names`);
    button.addEventListener("click", () => busy(button, async () => {
      const lists = await Promise.all(["created", "updated", "deactivated"].map((change) =>
        page.api.get(`${base}/syncs/${encodeURIComponent(runId)}/preview/records`, { type, change, limit: 200 })
          .then((r) => [change, r.records, r.nextCursor])));
      replace(holder, lists.filter(([, records]) => records.length).map(([change, records, next]) => h("div", { dataset: { change } },
        h("h4", {}, `${type[0].toUpperCase() + type.slice(1)} that ${CHANGE_WORDS[change]}`),
        h("ul", { class: "columns" }, records.map((r) => h("li", {}, r.name || r.classTitle || r.sisSourcedId))),
        next ? h("p", { class: "hint" }, "More than 200: the first 200 are shown.") : null)),
      lists.every(([, records]) => !records.length) ? h("p", { class: "empty" }, "No creations, updates or deactivations.") : null);
      button.hidden = true;
    }, "Loading…"));
    return h("div", {}, button, holder);
  };
  const would = preview.wouldNeedReview;
  const matchRows = matching ? Object.entries(matching.counts || {}) : [];
  replace(target,
    h("section", { class: "card", id: "preview-result", "aria-labelledby": "preview-title" },
      h("h2", { id: "preview-title" }, "What these choices would do"),
      h("p", { class: "hint" }, complete ? "Every record is listed." : "Names are a sample of up to 50 per type and change. ",
        complete ? null : completeButton(page, body, target)),
      h("div", { class: "table-wrap" }, h("table", { class: "counts", id: "preview-counts" },
        h("caption", { class: "visually-hidden" }, "Records per type the sync would change"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Type"), ["created", "updated", "kept", "deactivated"].map((k) => h("th", { scope: "col" }, k)))),
        h("tbody", {}, TYPES.map((t) => h("tr", { dataset: { type: t } }, h("th", { scope: "row" }, t),
          ["created", "updated", "kept", "deactivated"].map((k) => h("td", { dataset: { kind: k } }, (preview.counts[t]?.[k] || 0).toLocaleString()))))))),
      would && Object.values(would).some((n) => n > 0)
        ? notice("warning", h("strong", {}, "A sync of these choices would be held for review: "), heldSummary(would), " would be deactivated, more than the district's limit.") : null,
      h("h3", {}, "Names"),
      h("div", { class: "preview-types" }, TYPES.map((t) => names(t))),
      h("h3", {}, "Matching with the app's own records"),
      matchRows.length ? h("div", { class: "table-wrap" }, h("table", { class: "counts", id: "preview-matching" },
        h("caption", { class: "visually-hidden" }, "Matching per type"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Type"), ["would link", "would create", "conflicts"].map((k) => h("th", { scope: "col" }, k)))),
        h("tbody", {}, matchRows.map(([t, c]) => h("tr", { dataset: { type: t } }, h("th", { scope: "row" }, t),
          h("td", { dataset: { kind: "linked" } }, c.linked.toLocaleString()), h("td", { dataset: { kind: "created" } }, c.created.toLocaleString()),
          h("td", { dataset: { kind: "conflicts" } }, c.conflicts.toLocaleString()))))))
        : h("p", { class: "empty" }, "No matching: the app registered no records of its own."),
      h("p", {}, "Saving these choices makes the next sync do exactly this (unless the SIS changes before then).")));
  target.querySelector("h2").setAttribute("tabindex", "-1");
  target.querySelector("h2").focus();
}

function completeButton(page, body, target) {
  const button = h("button", { type: "button", class: "link-button", id: "preview-complete" }, "Preview again, listing every record");
  button.addEventListener("click", () => runPreview(page, body, target, true));
  return button;
}
