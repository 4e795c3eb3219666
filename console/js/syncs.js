// Syncs: the district's status at a glance, "sync now", the run history, one run's counts and
// errors, live progress while a run is queued or running, and approving a held run.

import { heldReview, reviewLine } from "./review.js";
import { busy, errorBox, h, notice, plural, replace, statusBadge, when } from "./ui.js";

const TYPES = ["schools", "teachers", "students", "classes", "enrollments"];
const COUNT_KINDS = ["created", "updated", "unchanged", "deactivated", "skipped"];
const POLL_MS = 1000;
const ACTIVE = new Set(["queued", "running"]);
const TRIGGERS = { nightly: "Nightly", manual: "Started by hand", replay: "Replay", csv_arrival: "A CSV bundle arrived" };

const runHref = (page, runId) => `#/d/${encodeURIComponent(page.districtId)}/syncs/${encodeURIComponent(runId)}`;

async function getOrNull(api, path, code) {
  try { return await api.get(path); } catch (error) { if (error.status === 404 && error.code === code) return null; throw error; }
}

/** The status card: connection, last run (failing and why), next run, a held run waiting. */
export async function statusSummary(page) {
  const base = page.api.district(page.districtId);
  const [connection, config, runs, district] = await Promise.all([
    getOrNull(page.api, `${base}/sis/connection`, "not_connected"),
    getOrNull(page.api, `${base}/sync-config`, "not_configured"),
    page.api.get(`${base}/syncs`, { limit: 20 }),
    page.district(),
  ]);
  const last = runs.syncs[0];
  const held = runs.syncs.find((r) => r.status === "needs_review");
  const lastFailed = last && last.status === "failed";
  const rows = [
    ["SIS connection", connection
      ? h("span", {}, lastFailed ? statusBadge("failed") : statusBadge("connected"), " ", connection.kind === "oneroster_csv" ? "OneRoster CSV files" : connection.hostUrl,
        lastFailed ? h("span", { class: "failure" }, ` — the last sync failed: ${last.failure || "see the run"}`) : null)
      : h("span", {}, "Not connected. ", h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/setup/2` }, "Connect the SIS"))],
    ["Last sync", last ? h("span", {}, statusBadge(last.status), " ", h("a", { href: runHref(page, last.runId) }, when(last.finishedAt || last.startedAt || last.queuedAt, district.timezone)), ` (${TRIGGERS[last.trigger] || last.trigger})`) : "None yet"],
    ["Next nightly sync", config ? (config.nextSyncAt ? when(config.nextSyncAt, district.timezone) : "Nightly syncs are off") : "Not configured yet"],
  ];
  return h("section", { class: "card status-card", "aria-labelledby": "status-title" },
    h("h2", { id: "status-title" }, "Status"),
    h("dl", { class: "facts" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
    held ? notice("warning", h("strong", {}, "A sync is held for review. "),
      `It would deactivate ${heldText(held)}. `, h("a", { href: runHref(page, held.runId) }, "Review it")) : null,
    yearWarning(page, last, connection));
}

/** A last run that left most classes out because their terms are over (or a SIS with no current
 * term): said prominently, since such a run succeeds with an empty roster. */
function yearWarning(page, last, connection) {
  const warnings = (last?.notices || []).filter((n) => n.severity === "warning");
  const calendar = connection?.health?.calendar;
  if (!warnings.length && !calendar) return null;
  const box = notice("warning", h("strong", {}, "Nothing current to sync. "),
    warnings.length ? warnings.map((n) => n.message).join(" ") : calendar, " ",
    last && warnings.length ? h("a", { href: runHref(page, last.runId) }, "See the run") : null);
  box.id = "year-warning";
  return box;
}

function runWarning(n) {
  const box = notice("warning", h("strong", {}, "Nothing current to sync. "), n.message);
  box.classList.add("run-warning");
  return box;
}

function noticesPanel(run) {
  const notices = run.notices || [];
  if (!notices.length) return h("p", { class: "empty" }, "None.");
  return h("ul", { class: "notices", id: "run-notices" }, notices.map((n) =>
    h("li", { dataset: { code: n.code, severity: n.severity } }, h("code", {}, n.code), " ", n.message)));
}

/** Why the skipped were left out, per type ("classes: term_ended 39, inactive 1"). */
function skippedByList(run) {
  const lines = TYPES.map((type) => [type, Object.entries(run.counts?.[type]?.skippedBy || {})]).filter(([, by]) => by.length);
  if (!lines.length) return null;
  return h("div", { id: "run-skipped-by" }, h("p", { class: "hint" }, "Skipped: records the SIS lists that this run left out, by reason."),
    h("ul", { class: "skipped-by" }, lines.map(([type, by]) => h("li", { dataset: { type } }, h("strong", {}, `${type}: `),
      by.map(([reason, n]) => `${reason.replaceAll("_", " ")} ${n.toLocaleString()}`).join(", ")))));
}

function heldText(run) {
  const held = run.heldDeactivations || {};
  const parts = Object.entries(held).filter(([, n]) => n > 0).map(([type, n]) => `${n.toLocaleString()} ${type}`);
  return parts.length ? parts.join(", ") : "records";
}

function countsLine(run) {
  const sum = (kind) => TYPES.reduce((total, type) => total + (run.counts?.[type]?.[kind] || 0), 0);
  return `${sum("created").toLocaleString()} created · ${sum("updated").toLocaleString()} updated · ${sum("deactivated").toLocaleString()} deactivated`;
}

// ---------------------------------------------------------------- the syncs page
export async function renderSyncs(page, onLeave) {
  const base = page.api.district(page.districtId);
  const district = await page.district();
  const status = h("div", {}, await statusSummary(page));
  const message = h("div", { "aria-live": "polite", id: "sync-message" });
  const mode = h("select", { id: "sync-mode", name: "mode" }, h("option", { value: "full" }, "Full sync"), h("option", { value: "delta" }, "Changes only (delta)"));
  const syncNow = h("button", { type: "button", class: "primary", id: "sync-now" }, "Sync now");
  const tbody = h("tbody", {});
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Older syncs");
  let nextCursor = null;
  let rows = [];

  const row = (run) => h("tr", { dataset: { runId: run.runId, status: run.status } },
    h("td", { dataset: { label: "Started" } }, h("a", { href: runHref(page, run.runId) }, when(run.startedAt || run.queuedAt, district.timezone))),
    h("td", { dataset: { label: "Status" } }, statusBadge(run.status), ACTIVE.has(run.status) ? h("progress", { "aria-label": "in progress" }) : null),
    h("td", { dataset: { label: "How" } }, TRIGGERS[run.trigger] || run.trigger, ` · ${run.mode}`),
    h("td", { dataset: { label: "Counts" } }, countsLine(run)),
    h("td", { dataset: { label: "Errors" } }, run.errorTotal ? plural(run.errorTotal, "error") : "—"));

  const drawRows = () => {
    tbody.replaceChildren(...(rows.length ? rows.map(row) : [h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No syncs yet."))]));
    more.hidden = !nextCursor;
  };
  // A refresh reloads the first page (older pages loaded by hand are dropped: runs move down).
  const load = async (append = false) => {
    const result = await page.api.get(`${base}/syncs`, { limit: 10, cursor: append ? nextCursor : undefined });
    rows = append ? rows.concat(result.syncs) : result.syncs;
    nextCursor = result.nextCursor;
    drawRows();
  };
  more.addEventListener("click", () => busy(more, () => load(true)));

  // Live progress: while a run is queued or running, refresh the list and the status.
  let timer = null;
  let stopped = false;
  const poll = async () => {
    timer = null;
    if (stopped) return;
    try {
      const before = rows.filter((r) => ACTIVE.has(r.status)).map((r) => r.runId);
      await load(false);
      const stillActive = rows.some((r) => ACTIVE.has(r.status));
      if (before.length && !stillActive) status.replaceChildren(await statusSummary(page));
      if (stillActive) timer = setTimeout(poll, POLL_MS);
    } catch (error) {
      message.replaceChildren(errorBox(error));
    }
  };
  const startPolling = () => { if (!timer && !stopped) timer = setTimeout(poll, POLL_MS); };
  onLeave(() => { stopped = true; if (timer) clearTimeout(timer); });

  syncNow.addEventListener("click", () => busy(syncNow, async () => {
    message.replaceChildren();
    try {
      const { runId } = await page.api.post(`${base}/syncs`, { mode: mode.value });
      message.replaceChildren(notice("success", h("strong", {}, "Sync started. "), "Its progress shows below. ", h("a", { href: runHref(page, runId) }, "Open it")));
      await load(false);
      status.replaceChildren(await statusSummary(page));
      startPolling();
    } catch (error) {
      if (error.status === 409 && error.code === "sync_in_progress") {
        replace(message, notice("warning", h("strong", {}, "Already running. "), error.message, " ",
          error.extra.runId ? h("a", { href: runHref(page, error.extra.runId) }, "See the running sync") : null,
          h("span", { class: "code" }, ` (${error.code})`)));
        startPolling();
      } else {
        message.replaceChildren(errorBox(error));
      }
    }
  }, "Starting…"));

  page.render(h("h1", {}, "Syncs"), status,
    h("section", { class: "card", "aria-labelledby": "start-title" }, h("h2", { id: "start-title" }, "Start a sync"),
      h("div", { class: "inline-controls" }, h("label", { for: "sync-mode" }, "Kind"), mode, syncNow), message),
    h("section", { class: "card", "aria-labelledby": "history-title" }, h("h2", { id: "history-title" }, "History"),
      h("div", { class: "table-wrap" }, h("table", { class: "runs" },
        h("caption", { class: "visually-hidden" }, "Syncs, newest first"),
        h("thead", {}, h("tr", {}, ["Started", "Status", "How", "Counts", "Errors"].map((c) => h("th", { scope: "col" }, c)))), tbody)),
      h("p", {}, more)));
  await load(false);
  if (rows.some((r) => ACTIVE.has(r.status))) startPolling();
}

// ---------------------------------------------------------------- one run
export async function renderRun(page, runId, onLeave) {
  const base = page.api.district(page.districtId);
  const district = await page.district();
  const body = h("div", {});
  const live = h("p", { class: "hint", "aria-live": "polite", id: "run-live" });
  let timer = null;
  let stopped = false;
  onLeave(() => { stopped = true; if (timer) clearTimeout(timer); });

  const draw = (run) => {
    // A held run (or one decided): its records, filled in when they arrive.
    const held = run.status === "needs_review" || (run.review && !ACTIVE.has(run.status)) ? h("div", { id: "held-slot" }) : null;
    if (held) {
      heldReview(page, run, () => refresh()).then((section) => held.replaceChildren(section), (error) => held.replaceChildren(errorBox(error)));
    }
    replace(body,
      h("dl", { class: "facts" },
        h("dt", {}, "Status"), h("dd", { id: "run-status", dataset: { status: run.status } }, statusBadge(run.status), ACTIVE.has(run.status) ? h("progress", { "aria-label": "in progress" }) : null),
        h("dt", {}, "How"), h("dd", {}, `${TRIGGERS[run.trigger] || run.trigger}, ${run.mode} sync`, run.replayOf ? ` (replays ${run.replayOf})` : ""),
        h("dt", {}, "Queued"), h("dd", {}, when(run.queuedAt, district.timezone)),
        h("dt", {}, "Started"), h("dd", {}, when(run.startedAt, district.timezone)),
        h("dt", {}, "Finished"), h("dd", {}, when(run.finishedAt, district.timezone))),
      run.failure ? notice("error", h("strong", {}, "Failed: "), run.failure) : null,
      reviewLine(run.review, district.timezone),
      held,
      (run.notices || []).filter((n) => n.severity === "warning").map((n) => runWarning(n)),
      h("h2", {}, "Counts"),
      h("div", { class: "table-wrap" }, h("table", { class: "counts", id: "run-counts" },
        h("caption", { class: "visually-hidden" }, "Records per type"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Type"), COUNT_KINDS.map((k) => h("th", { scope: "col" }, k)))),
        h("tbody", {}, TYPES.map((type) => h("tr", { dataset: { type } }, h("th", { scope: "row" }, type),
          COUNT_KINDS.map((k) => h("td", { dataset: { kind: k } }, (run.counts?.[type]?.[k] || 0).toLocaleString()))))))),
      skippedByList(run),
      h("h2", {}, "Notices"),
      noticesPanel(run),
      h("h2", {}, "Record errors"),
      run.errorTotal === 0 ? h("p", { class: "empty" }, "None.") : h("div", {},
        h("p", {}, run.errors.length < run.errorTotal ? `The first ${run.errors.length} of ${run.errorTotal.toLocaleString()} errors:` : `${plural(run.errorTotal, "error")}:`),
        h("div", { class: "table-wrap" }, h("table", { class: "errors" },
          h("thead", {}, h("tr", {}, ["Type", "SIS id", "Code", "What happened"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, run.errors.map((e) => h("tr", {}, h("td", {}, e.type), h("td", {}, h("code", {}, e.sisSourcedId || "—")), h("td", {}, h("code", {}, e.code)), h("td", {}, e.message))))))));
  };
  const refresh = async () => {
    timer = null;
    if (stopped) return;
    try {
      const run = await page.api.get(`${base}/syncs/${encodeURIComponent(runId)}`);
      draw(run);
      if (ACTIVE.has(run.status)) {
        live.textContent = `Refreshing while it runs · updated ${new Date().toLocaleTimeString()}`;
        timer = setTimeout(refresh, POLL_MS);
      } else {
        live.textContent = "";
      }
    } catch (error) {
      body.replaceChildren(errorBox(error));
    }
  };
  const first = await page.api.get(`${base}/syncs/${encodeURIComponent(runId)}`);
  draw(first);
  page.render(h("h1", {}, "Sync run"), h("p", {}, h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/syncs` }, "← All syncs")), live, body);
  if (ACTIVE.has(first.status)) { live.textContent = "Refreshing while it runs"; timer = setTimeout(refresh, POLL_MS); }
}
