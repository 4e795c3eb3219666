// A district's other screens: matching with the app's own records, the audit log, connection
// health and notification contacts, terms, and purge. Each reads the API as docs/openapi.json
// documents it; nothing here keeps state of its own.

import { busy, clearFieldErrors, confirmDialog, errorBox, field, formError, h, notice, plural, replace, showFormError, statusBadge, when } from "./ui.js";

const enc = encodeURIComponent;

// ---------------------------------------------------------------- matching
const CONFLICT_REASONS = {
  two_candidates: "Two app records could be this one",
  role_mismatch: "The app record has another role",
  already_linked: "The app record is already linked to another SIS record",
  school_mismatch: "The app record is in another school",
};
const SHOWN_FIELDS = [["givenName", "Given name"], ["familyName", "Family name"], ["role", "Role"], ["email", "Email"],
  ["username", "Username"], ["identifier", "Identifier"], ["title", "Title"], ["classCode", "Code"], ["userId", "App id"], ["classId", "App id"]];

function recordFacts(record) {
  const rows = SHOWN_FIELDS.filter(([key]) => record && record[key]);
  return h("dl", { class: "facts" }, rows.map(([key, label]) => [h("dt", {}, label), h("dd", {}, String(record[key]))]));
}

export async function renderMatching(page) {
  const base = page.api.district(page.districtId);
  const district = await page.district();
  const { syncs } = await page.api.get(`${base}/syncs`, { limit: 20 });
  const recent = syncs.filter((r) => r.mode !== "preview" && ["succeeded", "needs_review"].includes(r.status)).slice(0, 5);
  const [matchings, conflicts, registered, { schools }] = await Promise.all([
    Promise.all(recent.map((r) => page.api.get(`${base}/syncs/${enc(r.runId)}/matching`, { limit: 1 }).then((m) => [r, m], () => [r, null]))),
    page.api.get(`${base}/matching/conflicts`, { limit: 50 }),
    page.api.get(`${base}/app-records`),
    page.api.get(`${base}/schools`, { limit: 200 }),
  ]);
  const list = h("div", { id: "conflicts" });
  const drawConflicts = (items) => {
    replace(list, items.length ? items.map((c) => conflictCard(page, c, () => renderMatching(page)))
      : h("p", { class: "empty", id: "no-conflicts" }, "No open conflicts: every SIS record was matched or created without doubt."));
  };
  drawConflicts(conflicts.conflicts);
  const total = (m, kind) => Object.values(m?.counts || {}).reduce((sum, c) => sum + (c[kind] || 0), 0);
  const byType = (m, kind) => Object.entries(m?.counts || {}).filter(([, c]) => c[kind]).map(([t, c]) => `${c[kind].toLocaleString()} ${t}`).join(", ");
  // One wrapper per cell: on phones the cell is a two-column grid (its label, then this).
  const cell = (m, kind) => h("td", { dataset: { kind, total: total(m, kind) } }, h("span", {}, total(m, kind).toLocaleString(),
    byType(m, kind) ? h("span", { class: "muted block" }, byType(m, kind)) : null));
  page.render(h("h1", {}, "Matching"),
    h("p", {}, "The app registers the accounts and classes it already has (origin “app” in the rosters); each sync links an SIS record to the app record that is clearly the same, and creates the rest. When the match is not clear, the sync creates the SIS record separately and lists it here."),
    registeredCard(page, registered),
    h("section", { class: "card", "aria-labelledby": "match-counts-title" },
      h("h2", { id: "match-counts-title" }, "What recent syncs' matching did"),
      matchings.length ? h("div", { class: "table-wrap" }, h("table", { class: "roster", id: "matching-counts" },
        h("caption", { class: "visually-hidden" }, "Matching per sync"),
        h("thead", {}, h("tr", {}, ["Sync", "Linked to app records", "Created", "Conflicts", "SIS id changed"].map((k) => h("th", { scope: "col" }, k)))),
        h("tbody", {}, matchings.map(([r, m]) => h("tr", { dataset: { runId: r.runId } },
          h("td", { dataset: { label: "Sync" } }, h("a", { href: `#/d/${enc(page.districtId)}/syncs/${enc(r.runId)}` }, when(r.finishedAt || r.queuedAt, district.timezone))),
          m ? [cell(m, "linked"), cell(m, "created"), cell(m, "conflicts"), cell(m, "rekeyed")].map((td, i) => { td.dataset.label = ["Linked", "Created", "Conflicts", "SIS id changed"][i]; return td; })
            : h("td", { colspan: 4 }, "Not available"))))))
        : h("p", { class: "empty" }, "No sync yet.")),
    h("section", { class: "card", "aria-labelledby": "conflicts-title" },
      h("h2", { id: "conflicts-title" }, `Open conflicts (${conflicts.conflicts.length}${conflicts.nextCursor ? "+" : ""})`),
      h("p", { class: "hint" }, "Link: the app record takes the SIS record's place from the next sync on. Keep separate: the SIS record stays a record of its own."),
      list),
    registerCard(page, schools));
}

/**
 * Register one account or class the app already has (POST app-users, app-classes), as the app's
 * backend does in bulk: the next sync links it to the SIS record that is clearly the same.
 */
function registerCard(page, schools) {
  const base = page.api.district(page.districtId);
  const text = (name, attrs = {}) => h("input", { name, autocomplete: "off", ...attrs });
  const valueOf = (form) => Object.fromEntries([...new FormData(form)].map(([k, v]) => [k, String(v).trim()]).filter(([, v]) => v));
  const refresh = async () => {
    const counts = await page.api.get(`${base}/app-records`);
    document.getElementById("registered")?.replaceWith(registeredCard(page, counts));
  };
  const schoolSelect = (name, any) => h("select", { name }, any ? h("option", { value: "" }, any) : null,
    schools.map((s) => h("option", { value: s.schoolId }, s.name)));

  const account = h("form", { class: "stack-form", novalidate: true, id: "register-account", "aria-labelledby": "register-account-title" });
  const accountDone = h("div", { "aria-live": "polite", id: "register-account-result" });
  const accountSubmit = h("button", { type: "submit", class: "secondary" }, "Register the account");
  account.append(h("h3", { id: "register-account-title" }, "An account"),
    field("Role", h("select", { name: "role" }, h("option", { value: "student" }, "Student"), h("option", { value: "teacher" }, "Teacher"))),
    field("Given name", text("givenName")), field("Family name", text("familyName")),
    field("Email", text("email", { type: "email" }), "Matching looks for the SIS person by identifier, then email, then username."),
    field("Username", text("username")), field("Identifier", text("identifier"), "A state or district id, if the app keeps one."),
    field("School", schoolSelect("schoolId", "No school")),
    formError(), h("div", { class: "actions" }, accountSubmit), accountDone);
  account.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { schoolId, ...values } = valueOf(account);
    await busy(accountSubmit, async () => {
      try {
        const answer = await page.api.post(`${base}/app-users`, { ...values, schoolIds: schoolId ? [schoolId] : [] });
        clearFieldErrors(account);
        account.reset();
        accountDone.replaceChildren(notice("success", h("strong", {}, "Registered. "), `App id ${answer.userId} (${answer.change}). The next sync links it to the SIS person who is clearly the same.`));
        await refresh();
      } catch (error) { showFormError(account, error); }
    }, "Registering…");
  });

  const klass = h("form", { class: "stack-form", novalidate: true, id: "register-class", "aria-labelledby": "register-class-title" });
  const classDone = h("div", { "aria-live": "polite", id: "register-class-result" });
  const classSubmit = h("button", { type: "submit", class: "secondary" }, "Register the class");
  klass.append(h("h3", { id: "register-class-title" }, "A class"),
    field("Title", text("title")), field("Class code", text("classCode"), "Matching looks for the SIS class by its code in the same school."),
    field("School", schoolSelect("schoolId")),
    field("Teacher's app id", text("teacherId"), "Optional: with it, a class of the same title, school and teacher links too."),
    formError(), h("div", { class: "actions" }, classSubmit), classDone);
  klass.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(classSubmit, async () => {
      try {
        const answer = await page.api.post(`${base}/app-classes`, valueOf(klass));
        clearFieldErrors(klass);
        klass.reset();
        classDone.replaceChildren(notice("success", h("strong", {}, "Registered. "), `App id ${answer.classId} (${answer.change}). The next sync links it to the SIS class that is clearly the same.`));
        await refresh();
      } catch (error) { showFormError(klass, error); }
    }, "Registering…");
  });
  return h("section", { class: "card", "aria-labelledby": "register-title", id: "register" },
    h("h2", { id: "register-title" }, "Register what the app already has"),
    h("p", { class: "hint" }, "The app's backend registers its accounts and classes in bulk; here one at a time, for a record it missed."),
    schools.length ? h("div", { class: "side-by-side" }, account, klass)
      : h("p", { class: "empty" }, "Classes need a school of the app: match the schools in setup step 3 first."), schools.length ? null : account);
}

/** The app's own records per type (GET app-records): registered, linked to the SIS or not, and the sync's for comparison. */
function registeredCard(page, counts) {
  const rosters = `#/d/${enc(page.districtId)}/rosters`;
  const types = [["teachers", "Teachers", `${rosters}/teachers`], ["students", "Students", `${rosters}/students`], ["classes", "Classes", `${rosters}/classes`]];
  // [key, heading, the short label a phone shows beside each number]
  const columns = [["registered", "Registered by the app", "Registered"], ["linked", "Linked to the SIS", "Linked"],
    ["unlinked", "The app's alone", "App's alone"], ["inactive", "Inactive", "Inactive"], ["fromSis", "Made by the sync", "By the sync"]];
  const none = types.every(([t]) => !counts[t].registered);
  return h("section", { class: "card", "aria-labelledby": "registered-title", id: "registered" },
    h("h2", { id: "registered-title" }, "The app's own accounts and classes"),
    h("p", { class: "hint" }, "Origin “app”: records the app registered before or beside the SIS. Linked ones are kept up to date by each sync; the others are the app's alone and no sync deactivates them. “Made by the sync” (origin “sis”) is for comparison."),
    none ? h("p", { class: "empty", id: "registered-none" }, "The app has registered no accounts or classes: each sync creates every SIS record.") : null,
    h("div", { class: "table-wrap" }, h("table", { class: "counts", id: "registered-counts" },
      h("caption", { class: "visually-hidden" }, "The app's registered records per type"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Type"), columns.map(([, label]) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, types.map(([type, label, href]) => h("tr", { dataset: { type } },
        h("th", { scope: "row" }, h("a", { href }, label)),
        columns.map(([key, , short]) => h("td", { dataset: { label: short, kind: key } }, counts[type][key].toLocaleString()))))))));
}

function conflictCard(page, conflict, after) {
  const base = page.api.district(page.districtId);
  const message = h("div", { "aria-live": "polite" });
  const kind = conflict.type === "class" ? "class" : "account";
  const side = (title, record, extra) => h("div", { class: "side" }, h("h4", {}, title), recordFacts(record), extra);
  const resolve = async (button, action, appId, label) => {
    const ok = await confirmDialog(action === "link" ? `Link this SIS ${kind} to the app's?` : `Keep this SIS ${kind} separate?`,
      [h("p", {}, action === "link"
        ? `From the next sync on, ${label} is the SIS record: the sync keeps it up to date and the separately created record is deactivated.`
        : "The SIS record stays a record of its own; the app's records are left as they are. Matching stops asking about it.")],
      action === "link" ? "Link them" : "Keep separate");
    if (!ok) return;
    await busy(button, async () => {
      try {
        const answer = await page.api.post(`${base}/matching/resolutions`, { type: conflict.type, sisSourcedId: conflict.sisSourcedId, action, appId });
        message.replaceChildren(notice("success", h("strong", {}, "Saved. "), answer.message));
        setTimeout(after, 1500);
      } catch (error) { message.replaceChildren(errorBox(error)); }
    }, "Saving…");
  };
  const separate = h("button", { type: "button", class: "secondary" }, "Keep separate");
  separate.addEventListener("click", () => resolve(separate, "separate", null));
  return h("article", { class: "card conflict", dataset: { sisSourcedId: conflict.sisSourcedId }, "aria-label": `Conflict: ${conflict.message}` },
    h("p", {}, h("strong", {}, CONFLICT_REASONS[conflict.reason] || conflict.reason), ". ", conflict.message),
    h("div", { class: "side-by-side" },
      side(`SIS ${kind} (${conflict.sisSourcedId})`, conflict.sisRecord),
      conflict.candidates.map((candidate, i) => {
        const appId = candidate.userId || candidate.classId;
        const link = h("button", { type: "button", class: "primary", dataset: { appId } }, `Link to app ${kind} ${i + 1}`);
        link.addEventListener("click", () => resolve(link, "link", appId, `app ${kind} ${appId}`));
        return side(`App ${kind} ${i + 1}`, candidate, h("div", { class: "actions" }, link));
      })),
    h("div", { class: "actions" }, separate), message);
}

// ---------------------------------------------------------------- audit
const ACTION_WORDS = {
  "connection.update": "SIS connection saved", "connection.delete": "SIS connection removed",
  "school_matches.update": "School matches saved", "sync_config.update": "Sync choices saved", "sync.start": "Sync started",
  "sync.preview": "Preview run", "sync.approve": "Held sync approved", "sync.reject": "Held sync rejected",
  "purge.request": "Purge asked for", "purge.confirm": "Purge confirmed", "district.update": "District changed",
  "matching.resolve": "Matching conflict resolved",
  "notifications.test": "Test message sent",
};

const ACTION_FAMILIES = { sync: "Every sync action", connection: "Every connection action", purge: "Every purge action" };

export async function renderAudit(page) {
  const base = page.api.district(page.districtId);
  const district = await page.district();
  let entries = [];
  let nextCursor = null;
  const people = new Set();
  // Both filters are the API's (?action=, ?by=): they look through the whole log, not a page of it.
  const kind = h("select", { id: "audit-kind", name: "action" }, h("option", { value: "" }, "Every kind"),
    h("optgroup", { label: "Families" }, Object.entries(ACTION_FAMILIES).map(([v, text]) => h("option", { value: v }, text))),
    h("optgroup", { label: "Actions" }, Object.entries(ACTION_WORDS).sort(([, a], [, b]) => a.localeCompare(b))
      .map(([v, text]) => h("option", { value: v }, `${text} (${v})`))));
  const person = h("input", { id: "audit-person", name: "by", list: "audit-people", autocomplete: "off", spellcheck: "false" });
  const peopleList = h("datalist", { id: "audit-people" });
  const body = h("div", { id: "audit-list" });
  const info = h("p", { class: "hint", "aria-live": "polite", id: "audit-info" });
  const more = h("button", { type: "button", class: "secondary", id: "audit-more", hidden: true }, "Older entries");
  const message = h("div", { "aria-live": "polite" });
  const filtered = () => Boolean(kind.value || person.value.trim());
  const draw = () => {
    entries.forEach((e) => e.by?.sub && people.add(e.by.sub));
    replace(peopleList, [...people].sort().map((sub) => h("option", { value: sub })));
    replace(body, entries.length ? h("ol", { class: "audit" }, entries.map((e) => h("li", { class: "card audit-entry", dataset: { action: e.action, by: e.by?.sub || "" } },
      h("p", {}, h("strong", {}, ACTION_WORDS[e.action] || e.action), " ", h("code", {}, e.action)),
      h("p", { class: "muted" }, `${when(e.at, district.timezone)} · ${who(e.by)}`, e.target ? ` · ${e.target}` : ""),
      e.before !== null && e.before !== undefined || e.after !== null && e.after !== undefined
        ? h("div", { class: "before-after" },
          h("div", {}, h("h3", {}, "Before"), valueBlock(e.before)),
          h("div", {}, h("h3", {}, "After"), valueBlock(e.after))) : null)))
      : h("p", { class: "empty" }, filtered() ? "No entry matches these filters." : "Nothing recorded yet."));
    info.textContent = `${plural(entries.length, filtered() ? "matching entry" : "entry", filtered() ? "matching entries" : "entries")} shown, newest first` + (nextCursor ? "; older entries on request" : "");
    more.hidden = !nextCursor;
  };
  // A filtered page may come back short, even empty, with a cursor: read on (a bounded number of pages).
  const load = async (append) => {
    try {
      let cursor = append ? nextCursor : undefined;
      let found = append ? entries : [];
      for (let pages = 0; pages < 10; pages += 1) {
        const answer = await page.api.get(`${base}/audit`, { limit: 50, cursor, action: kind.value || undefined, by: person.value.trim() || undefined });
        found = found.concat(answer.entries);
        cursor = answer.nextCursor;
        if (answer.entries.length || !cursor) break;
      }
      entries = found;
      nextCursor = cursor;
      message.replaceChildren();
    } catch (error) { message.replaceChildren(errorBox(error)); }
    draw();
  };
  const filters = h("form", { class: "filters", id: "audit-filters", role: "search", "aria-label": "Filter the audit log" },
    h("div", { class: "field" }, h("label", { for: "audit-kind" }, "Kind"), kind),
    h("div", { class: "field" }, h("label", { for: "audit-person" }, "Person"), person, peopleList),
    h("div", { class: "field filter-action" }, h("button", { type: "submit", class: "secondary", id: "audit-apply" }, "Show")));
  filters.addEventListener("submit", (event) => { event.preventDefault(); load(false); });
  kind.addEventListener("change", () => load(false));
  more.addEventListener("click", () => busy(more, () => load(true), "Loading…"));
  await load(false);
  page.render(h("h1", {}, "Audit log"),
    h("p", {}, "Who changed what in this district, newest first. Secrets are never recorded."),
    filters,
    h("p", { class: "hint" }, "The filters search the whole log. Person: the id shown after each entry's time (suggested from the entries seen so far)."),
    message, info, body, h("p", {}, more));
}

function who(by) {
  if (!by) return "unknown";
  const role = { platform_admin: "platform admin", district_admin: "district admin", api_client: "API client" }[by.role] || by.role || "";
  return `${by.sub || "unknown"}${role ? ` (${role})` : ""}`;
}

function valueBlock(value) {
  if (value === null || value === undefined) return h("p", { class: "empty" }, "—");
  return h("pre", { class: "value" }, JSON.stringify(value, null, 2));
}

// ---------------------------------------------------------------- health and notifications
const HEALTH_WORDS = { ok: "Working", credentials_rejected: "The SIS refuses the client id and secret", access_denied: "The SIS account may not read rosters",
  not_oneroster: "Not a OneRoster API", invalid_host: "The host URL is not valid", unreachable: "The SIS does not answer", sis_error: "The SIS answers with errors" };

export async function renderHealth(page) {
  const base = page.api.district(page.districtId);
  const [overview, notifications] = await Promise.all([page.api.get(base), page.api.get(`${base}/notifications`)]);
  const tz = overview.timezone;
  const connection = overview.connection;
  const health = connection?.health;
  const testMessage = h("div", { "aria-live": "polite", id: "test-result" });
  const test = h("button", { type: "button", class: "primary", id: "test-connection" }, "Test the connection now");
  test.addEventListener("click", () => busy(test, async () => {
    try {
      await page.api.post(`${base}/sis/connection/test`);
      await renderHealth(page);
      document.getElementById("test-result")?.replaceChildren(notice("success", "Tested just now: the result is above."));
    } catch (error) {
      testMessage.replaceChildren(errorBox(error));
    }
  }, "Testing…"));
  const ok = health && (health.status === "ok" || (!health.lastError && health.lastOkAt));
  const healthCard = h("section", { class: "card", "aria-labelledby": "health-title", id: "health" },
    h("h2", { id: "health-title" }, "SIS connection"),
    connection ? [
      h("dl", { class: "facts" },
        h("dt", {}, "Health"), h("dd", { id: "health-status", dataset: { status: health?.status || "unknown" } },
          health?.status ? statusBadge(ok ? "connected" : "failed") : "Not used yet", health?.status && !ok ? ` ${HEALTH_WORDS[health.status] || health.status}` : ""),
        connection.kind === "oneroster_csv"
          ? [h("dt", {}, "Source"), h("dd", {}, "OneRoster CSV files (", h("a", { href: `#/d/${enc(page.districtId)}/uploads` }, "CSV bundles"), ")")]
          : [h("dt", {}, "Host"), h("dd", {}, connection.hostUrl)],
        h("dt", {}, "Last checked"), h("dd", {}, when(health?.lastCheckedAt, tz)),
        h("dt", {}, "Last worked"), h("dd", {}, when(health?.lastOkAt, tz)),
        h("dt", {}, "What failed"), h("dd", { id: "health-error" }, health?.lastError || "Nothing"),
        h("dt", {}, "Nightly syncs"), h("dd", {}, overview.syncEnabled ? `on; next ${when(overview.nextSyncAt, tz)}` : "off")),
      health?.whatToDo ? notice(ok ? "info" : "warning", h("strong", {}, "What to do: "), health.whatToDo) : null,
      connection.kind === "oneroster_csv" ? h("div", { class: "actions" }, disconnectButton(page, connection))
        : h("div", { class: "actions" }, test, disconnectButton(page, connection)), testMessage]
      : h("p", {}, "Not connected. ", h("a", { href: `#/d/${enc(page.districtId)}/setup/2` }, "Connect the SIS")));

  const form = h("form", { class: "card", novalidate: true, id: "contacts-form", "aria-labelledby": "contacts-title" });
  const contacts = h("textarea", { name: "contacts", rows: 4, autocomplete: "off" });
  contacts.value = (overview.contacts || []).join("\n");
  const save = h("button", { type: "submit", class: "primary" }, "Save contacts");
  const saved = h("div", { "aria-live": "polite", id: "contacts-result" });
  form.append(h("h2", { id: "contacts-title" }, "Notification contacts"),
    h("p", {}, "These addresses are emailed when:"),
    h("ul", { id: "contact-events" }, notifications.events.map((e) => h("li", { dataset: { kind: e.kind } }, e.when))),
    h("p", { class: "hint" }, "Every contact hears of every one of these, at most once a night each."),
    field("Email addresses, one a line", contacts, "At most 20. Leave it empty for nobody."),
    formError(), h("div", { class: "actions" }, save), saved);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const list = contacts.value.split(/[\n,;]+/).map((s) => s.trim()).filter(Boolean);
    await busy(save, async () => {
      try {
        const answer = await page.api.request("PATCH", base, { body: { contacts: list } });
        contacts.value = answer.contacts.join("\n");
        clearFieldErrors(form);
        saved.replaceChildren(notice("success", h("strong", {}, "Saved. "), answer.contacts.length ? `${plural(answer.contacts.length, "contact")} will be told.` : "Nobody will be told."));
      } catch (error) {
        // "contacts[1] must be ..." names the line the admin typed.
        const message = String(error.message).replace(/^contacts\[(\d+)\]/, (_, i) => `Line ${Number(i) + 1}: “${list[Number(i)] || ""}”`);
        showFormError(form, { status: error.status, code: error.code, message, field: "contacts" });
      }
    }, "Saving…");
  });
  page.render(h("h1", {}, "Health and notifications"), healthCard, form, messagesCard(page, notifications, tz));
}

/** Remove the SIS connection (DELETE sis/connection), after saying what it does. */
function disconnectButton(page, connection) {
  const button = h("button", { type: "button", class: "secondary", id: "disconnect" }, "Remove the connection");
  button.addEventListener("click", async () => {
    const ok = await confirmDialog("Remove the SIS connection?",
      [h("p", {}, `Roster Sync forgets ${connection.hostUrl} and its secret, and nightly syncs stop.`),
        h("p", {}, "Rosters stay as the last sync left them: nothing is deactivated or erased. Connect again in setup step 2.")],
      "Remove it");
    if (!ok) return;
    await busy(button, async () => {
      try {
        await page.api.delete(`${page.api.district(page.districtId)}/sis/connection`);
        page.forget();
        await renderHealth(page);
        document.getElementById("health")?.append(notice("success", h("strong", {}, "Removed. "), "Nightly syncs are off until the SIS is connected again."));
      } catch (error) { document.getElementById("test-result")?.replaceChildren(errorBox(error)); }
    }, "Removing…");
  });
  return button;
}

const MESSAGE_STATUS = { sent: "Sent", no_contacts: "Not sent: no contacts", no_sender: "Not sent: no sender address", failed: "Failed", sending: "Sending" };
const MESSAGE_KINDS = { sync_failed: "Sync failed", sync_held: "Sync held for review", connection_unhealthy: "Connection not working", test: "Test message" };

/** What the test message did, in words: who got it, or why nobody did. */
function testOutcome(message) {
  if (message.status === "sent") return notice("success", h("strong", {}, "Sent. "), `A test message went to ${message.recipients.join(", ")}. Ask them whether it arrived.`);
  if (message.status === "no_contacts") return notice("warning", h("strong", {}, "Not sent: "), "the district has no contacts. Add at least one above and save, then try again.");
  if (message.status === "no_sender") return notice("warning", h("strong", {}, "Not sent: "), "this installation has no sender address for email. Ask your Roster Sync support.");
  return notice("error", h("strong", {}, "Not sent. "), message.detail || "The mail service refused the message.");
}

/** The latest messages to the contacts (GET notifications), and the test message button. */
function messagesCard(page, notifications, tz) {
  const base = page.api.district(page.districtId);
  const result = h("div", { "aria-live": "polite", id: "test-message-result" });
  const send = h("button", { type: "button", class: "secondary", id: "send-test-message" }, "Send a test message");
  const table = h("div", { id: "recent-messages" });
  const draw = (recent) => replace(table, recent.length ? h("div", { class: "table-wrap" }, h("table", { class: "roster" },
    h("caption", { class: "visually-hidden" }, "Latest messages to the contacts"),
    h("thead", {}, h("tr", {}, ["When", "What", "To", "How it went"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, recent.map((m) => h("tr", { dataset: { kind: m.kind, status: m.status } },
      h("td", { dataset: { label: "When" } }, when(m.createdAt, tz)),
      h("td", { dataset: { label: "What" } }, MESSAGE_KINDS[m.kind] || m.kind),
      h("td", { dataset: { label: "To" } }, m.recipients.join(", ") || "—"),
      h("td", { dataset: { label: "How it went" } }, MESSAGE_STATUS[m.status] || m.status))))))
    : h("p", { class: "empty" }, "No message sent yet."));
  draw(notifications.recent);
  send.addEventListener("click", () => busy(send, async () => {
    try {
      const answer = await page.api.post(`${base}/notifications/test`);
      result.replaceChildren(testOutcome(answer.message),
        h("p", { class: "hint" }, `The next test message can go from ${when(answer.nextTestAt, tz)}.`));
      draw((await page.api.get(`${base}/notifications`)).recent);
    } catch (error) { result.replaceChildren(errorBox(error)); }
  }, "Sending…"));
  return h("section", { class: "card", "aria-labelledby": "messages-title", id: "messages" },
    h("h2", { id: "messages-title" }, "Messages to the contacts"),
    h("p", {}, "A test message goes to every contact saved above, the way real messages go. One test every ten minutes."),
    h("div", { class: "actions" }, send), result,
    h("h3", {}, "Latest messages"), table);
}

// ---------------------------------------------------------------- terms
const TERM_TYPES = { schoolYear: "School years", semester: "Semesters", term: "Terms", gradingPeriod: "Grading periods" };

export async function renderTerms(page) {
  const base = page.api.district(page.districtId);
  const terms = [];
  let cursor;
  do {
    const answer = await page.api.get(`${base}/terms`, { limit: 200, cursor });
    terms.push(...answer.terms);
    cursor = answer.nextCursor;
  } while (cursor && terms.length < 2000);
  const { schools } = await page.api.get(`${base}/schools`);
  const current = await Promise.all(schools.map((s) => page.api.get(`${base}/schools/${enc(s.schoolId)}/terms/current`)
    .then((answer) => [s, answer], (error) => [s, { error }])));
  const title = new Map(terms.map((t) => [t.termId, t.title || t.sisSourcedId]));
  const groups = Object.keys(TERM_TYPES).concat([...new Set(terms.map((t) => t.type))].filter((t) => !TERM_TYPES[t]));
  page.render(h("h1", {}, "Terms"),
    h("p", {}, "The school years, terms and grading periods your SIS lists, and the term each school is in today."),
    h("section", { class: "card", "aria-labelledby": "current-title" },
      h("h2", { id: "current-title" }, "Each school's current term"),
      schools.length ? h("div", { class: "table-wrap" }, h("table", { class: "roster", id: "current-terms" },
        h("caption", { class: "visually-hidden" }, "Current term per school"),
        h("thead", {}, h("tr", {}, ["School", "Current term", "Dates", "Next"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, current.map(([s, answer]) => h("tr", { dataset: { schoolId: s.schoolId } },
          h("td", { dataset: { label: "School" } }, s.name),
          h("td", { dataset: { label: "Current term" } }, answer.error ? errorBox(answer.error) : answer.term ? answer.term.title : "None today"),
          h("td", { dataset: { label: "Dates" } }, answer.term ? `${answer.term.startDate} – ${answer.term.endDate}` : "—"),
          h("td", { dataset: { label: "Next" } }, answer.nextTerm ? `${answer.nextTerm.title} from ${answer.nextTerm.startDate}` : "—"))))))
        : h("p", { class: "empty" }, "No schools yet.")),
    terms.length ? groups.filter((g) => terms.some((t) => t.type === g)).map((g) => termSection(g, terms, title))
      : h("p", { class: "empty card" }, "No terms yet: the first sync reads them from the SIS."));
}

function termSection(type, terms, title) {
  const rows = terms.filter((t) => t.type === type).sort((a, b) => (a.startDate || "").localeCompare(b.startDate || ""));
  return h("section", { class: "card", "aria-labelledby": `terms-${type}` },
    h("h2", { id: `terms-${type}` }, TERM_TYPES[type] || type),
    h("div", { class: "table-wrap" }, h("table", { class: "roster", dataset: { termType: type } },
      h("caption", { class: "visually-hidden" }, TERM_TYPES[type] || type),
      h("thead", {}, h("tr", {}, ["Title", "Dates", "Part of", "Status"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.map((t) => h("tr", { dataset: { id: t.termId } },
        h("td", { dataset: { label: "Title" } }, t.title || t.sisSourcedId),
        h("td", { dataset: { label: "Dates" } }, `${t.startDate || "?"} – ${t.endDate || "?"}`),
        h("td", { dataset: { label: "Part of" } }, t.parentId ? title.get(t.parentId) || t.parentId : "—"),
        h("td", { dataset: { label: "Status" } }, statusBadge(t.status))))))));
}

// ---------------------------------------------------------------- purge
const PURGE_WORDS = { requested: "Asked for: waiting for a platform administrator", queued: "Confirmed: queued", running: "Erasing", done: "Done: the district's data is erased" };

export async function renderPurge(page, onLeave) {
  const base = page.api.district(page.districtId);
  let purge = null;
  try { purge = await page.api.get(`${base}/purge`); } catch (error) { if (error.status !== 404) throw error; }
  const district = purge?.status === "done" ? null : await page.district().catch(() => null);
  const name = district?.name;
  const platform = page.session.role === "platform_admin";
  const status = purge ? h("section", { class: "card", "aria-labelledby": "purge-status-title", id: "purge-status", dataset: { status: purge.status } },
    h("h2", { id: "purge-status-title" }, "Status"),
    h("p", {}, h("span", { class: `badge badge-${purge.status === "done" ? "done" : "queued"}` }, purge.status), " ", PURGE_WORDS[purge.status] || purge.status),
    h("dl", { class: "facts" },
      h("dt", {}, "Asked by"), h("dd", {}, purge.requestedBy ? `${who(purge.requestedBy)}, ${when(purge.requestedBy.at, district?.timezone)}` : "—"),
      h("dt", {}, "Confirmed by"), h("dd", {}, purge.confirmedBy ? `${who(purge.confirmedBy)}, ${when(purge.confirmedBy.at, district?.timezone)}` : "not yet"),
      h("dt", {}, "Finished"), h("dd", {}, when(purge.finishedAt))),
    purge.message ? h("p", {}, purge.message) : null) : null;

  const erased = h("section", { class: "card", "aria-labelledby": "purge-what" },
    h("h2", { id: "purge-what" }, "What a purge erases, and what stays"),
    h("div", { class: "before-after" },
      h("div", {}, h("h3", {}, "Erased for good"), h("ul", { id: "purge-erased" },
        h("li", {}, "every teacher, student, class, enrollment, school and term of the district"),
        h("li", {}, "every sync, its counts and held records, and the sync checkpoints"),
        h("li", {}, "the audit log, the school matches and the sync choices"),
        h("li", {}, "the SIS connection and its secret (scheduled for deletion)"))),
      h("div", {}, h("h3", {}, "Stays"), h("ul", { id: "purge-stays" },
        h("li", {}, "a short record that the district was purged: who asked, who confirmed, when"),
        h("li", {}, "everything in your SIS: the purge touches only Roster Sync's copy")))),
    h("p", {}, "Nothing is erased when a district admin asks: a platform administrator confirms and carries it out. It cannot be undone."));

  let form = null;
  const canAsk = !platform && !purge;
  const canConfirm = platform && purge?.status !== "done" && !["queued", "running"].includes(purge?.status);
  if ((canAsk || canConfirm) && name) {
    form = h("form", { class: "card danger-zone", novalidate: true, id: "purge-form", "aria-labelledby": "purge-form-title" });
    const typed = h("input", { name: "confirmName", autocomplete: "off", spellcheck: "false" });
    const submit = h("button", { type: "submit", class: "danger", id: "purge-submit", disabled: true }, canAsk ? "Ask for the purge" : "Erase the district now");
    typed.addEventListener("input", () => { submit.disabled = typed.value.trim() !== name; });
    const result = h("div", { "aria-live": "polite", id: "purge-result" });
    form.append(h("h2", { id: "purge-form-title" }, canAsk ? "Ask for this district's purge" : "Confirm and carry out the purge"),
      field(`Type the district's name, “${name}”, to confirm`, typed, "The button works once the name matches exactly."),
      formError(), h("div", { class: "actions" }, submit), result);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (typed.value.trim() !== name) return;
      const ok = await confirmDialog(canAsk ? `Ask to purge ${name}?` : `Erase ${name} now?`,
        [h("p", {}, canAsk ? "A platform administrator is asked to erase every record of this district. Until they confirm, nothing is erased and syncs go on."
          : "Every record of this district is erased now, its syncs stop and its SIS secret is scheduled for deletion. This cannot be undone.")],
        canAsk ? "Ask for the purge" : "Erase it");
      if (!ok) return;
      await busy(submit, async () => {
        try {
          await page.api.request("DELETE", base, { query: canConfirm ? { confirm: page.districtId } : undefined });
          page.forget?.();
          await renderPurge(page, onLeave);
        } catch (error) { showFormError(form, error); }
      }, "Sending…");
    });
  }
  page.render(h("h1", {}, "Purge the district"), status, erased,
    form || (purge ? null : h("p", { class: "hint" }, platform ? "A district admin asks for a purge first; you confirm it here." : "")));
  if (purge && ["queued", "running"].includes(purge.status)) {
    const timer = setTimeout(() => { if (page.current()) renderPurge(page, onLeave); }, 2000);
    onLeave(() => clearTimeout(timer));
  }
}
