// The four setup steps, as a wizard that can be left and resumed: every step reads what is
// saved (connection, matches, configuration) and shows it.

import {
  add, busy, clearFieldErrors, errorBox, field, formError, h, notice, showFieldError, showFormError, statusBadge, uid, when,
} from "./ui.js";
import { runPreview } from "./review.js";

const STEPS = ["About OneRoster", "Connect the SIS", "Match schools", "Choose what to sync"];
const SIS_NAMES = ["PowerSchool", "Infinite Campus", "Aeries", "ClassLink", "Skyward", "Synergy", "Clever (OneRoster)", "Focus"];
const ONEROSTER_PATH = "/ims/oneroster/v1p1";

const seenKey = (id) => `rostersync.setup.${id}`;
function remember(districtId, step) {
  const seen = new Set(JSON.parse(localStorage.getItem(seenKey(districtId)) || "[]"));
  seen.add(step);
  localStorage.setItem(seenKey(districtId), JSON.stringify([...seen]));
}
const remembered = (districtId) => new Set(JSON.parse(localStorage.getItem(seenKey(districtId)) || "[]"));

async function getOrNull(api, path, missingCodes) {
  try { return await api.get(path); } catch (error) {
    if (error.status === 404 && missingCodes.includes(error.code)) return null;
    throw error;
  }
}

/** What is done, from what the API has saved: [intro, connection, matches, configuration]. */
export async function setupProgress(page) {
  const base = page.api.district(page.districtId);
  const [connection, config] = await Promise.all([
    getOrNull(page.api, `${base}/sis/connection`, ["not_connected"]),
    getOrNull(page.api, `${base}/sync-config`, ["not_configured"]),
  ]);
  const seen = remembered(page.districtId);
  return [Boolean(connection) || seen.has(1), Boolean(connection), Boolean(config) || (Boolean(connection) && seen.has(3)), Boolean(config)];
}

function stepper(page, current, progress) {
  const base = `#/d/${encodeURIComponent(page.districtId)}/setup`;
  return h("nav", { "aria-label": "Setup steps", class: "stepper" }, h("ol", {}, STEPS.map((title, i) =>
    h("li", { class: progress[i] ? "done" : "" }, h("a", { href: `${base}/${i + 1}`, "aria-current": i + 1 === current ? "step" : null },
      h("span", { class: "step-number" }, String(i + 1)), h("span", { class: "step-title" }, title),
      progress[i] ? h("span", { class: "visually-hidden" }, " (done)") : null)))));
}

const go = (page, step) => {
  if (page.current()) window.location.hash = `#/d/${encodeURIComponent(page.districtId)}/setup/${step}`;
};

export async function renderSetup(page, step) {
  const progress = await setupProgress(page);
  if (!step) {
    const next = progress.findIndex((done) => !done);
    return go(page, next === -1 ? 4 : next + 1);
  }
  const chrome = (body) => page.render(h("h1", {}, `Step ${step} of 4: ${STEPS[step - 1]}`), stepper(page, step, progress), body);
  if (step === 1) return chrome(stepIntro(page));
  if (step === 2) return chrome(await stepConnection(page));
  if (step === 3) return chrome(progress[1] ? await stepMatching(page) : needsConnection(page));
  if (step === 4) return chrome(progress[1] ? await stepSelection(page) : needsConnection(page));
  return go(page, 1);
}

function needsConnection(page) {
  return notice("warning", "Connect the SIS first. ", h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/setup/2` }, "Go to step 2"), ".");
}

// ---------------------------------------------------------------- step 1
function stepIntro(page) {
  return h("section", { class: "card" },
    h("p", {}, "Roster Sync reads your Student Information System (SIS) through ",
      h("strong", {}, "OneRoster"), " (1.1 or 1.2), the standard REST API most SISes offer, or from the OneRoster CSV files (a zip) an SIS exports. Every night it brings teachers, students, classes and enrollments into the app and keeps them right: new, changed and gone (gone means inactive, never erased)."),
    h("p", {}, "Supported SISes include:"),
    h("ul", { class: "columns" }, SIS_NAMES.map((n) => h("li", {}, n))),
    h("p", {}, "You will need from your SIS administrator: the OneRoster ", h("strong", {}, "host URL"), ", a ",
      h("strong", {}, "client id"), " and its ", h("strong", {}, "secret"), " (OAuth 1.0a or OAuth 2 client credentials); or, for CSV files, a bundle to upload (or SFTP delivery set up by your support)."),
    h("div", { class: "actions" }, h("button", { type: "button", class: "primary", onclick: () => { remember(page.districtId, 1); go(page, 2); } }, "Next: connect the SIS")));
}

// ---------------------------------------------------------------- step 2
const AUTH_NAMES = { oauth1: "OAuth 1.0a (signed requests)", oauth2: "OAuth 2 (client credentials)", auto: "Detect automatically" };

const KIND_NAMES = { oneroster_api: "OneRoster API", oneroster_csv: "OneRoster CSV files" };

/** Step 2 begins with what the SIS gives: a OneRoster REST API (tested live) or CSV files (uploaded or sent over SFTP). */
async function stepConnection(page) {
  const base = page.api.district(page.districtId);
  const saved = await getOrNull(page.api, `${base}/sis/connection`, ["not_connected"]);
  const kind = saved?.kind || "oneroster_api";
  const apiForm = await apiConnectionForm(page, saved && saved.kind !== "oneroster_csv" ? saved : null);
  const csvForm = csvConnectionForm(page, saved?.kind === "oneroster_csv" ? saved : null);
  const choices = Object.entries(KIND_NAMES).map(([value, label]) => {
    const input = h("input", { type: "radio", name: "kind", value, id: uid("kind"), checked: value === kind });
    input.addEventListener("change", () => { apiForm.hidden = value !== "oneroster_api"; csvForm.hidden = value !== "oneroster_csv"; });
    const hint = value === "oneroster_api" ? "The SIS answers OneRoster REST requests: give its address and credentials." : "The SIS exports OneRoster CSV bundles (a zip): upload them here or send them over SFTP.";
    return h("div", { class: "radio" }, input, h("label", { for: input.id }, h("strong", {}, label), h("span", { class: "hint block" }, hint)));
  });
  apiForm.hidden = kind !== "oneroster_api";
  csvForm.hidden = kind !== "oneroster_csv";
  return h("div", {}, h("fieldset", { class: "card kind-choice" }, h("legend", {}, "How does your SIS share rosters?"), choices), apiForm, csvForm);
}

const SCHEDULE_NAMES = { on_arrival: "Sync each bundle as soon as it arrives", nightly: "Sync the latest bundle each night" };

function csvConnectionForm(page, saved) {
  const base = page.api.district(page.districtId);
  const form = h("form", { class: "card", novalidate: true, id: "csv-connection-form" });
  const schedule = h("select", { name: "csvSchedule" }, Object.entries(SCHEDULE_NAMES).map(([v, label]) =>
    h("option", { value: v, selected: (saved?.csv?.csvSchedule || "on_arrival") === v }, label)));
  const retention = h("input", { name: "retentionDays", type: "number", min: 1, max: 30, inputmode: "numeric", value: String(saved?.csv?.retentionDays || 30) });
  const submit = h("button", { type: "submit", class: "primary" }, "Save");
  const uploads = `#/d/${encodeURIComponent(page.districtId)}/uploads`;
  const result = h("div", { "aria-live": "polite", id: "csv-connection-result" });
  if (saved) result.append(csvSavedNotice(saved, uploads));
  add(form,
    h("p", {}, "Nothing to test: each bundle is checked when it arrives (a manifest.csv, OneRoster 1.1 or 1.2, every file it lists as bulk or delta with the columns it needs). A bundle with a problem is refused with the file and the problem named, and nothing is written."),
    field("When to sync", schedule, "A bundle that arrives while a sync runs waits for the next one."),
    field("Keep bundles for (days)", retention, "Delivered bundles are deleted after this many days (at most 30), and when the district is purged."),
    formError(), h("div", { class: "actions" }, submit), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    result.replaceChildren();
    const days = Number(retention.value);
    if (!Number.isInteger(days) || days < 1 || days > 30) {
      showFieldError(form, "retentionDays", "Give a whole number of days from 1 to 30.");
      retention.focus();
      return;
    }
    await busy(submit, async () => {
      try {
        const connection = await page.api.put(`${base}/sis/connection`, { kind: "oneroster_csv", csvSchedule: schedule.value, retentionDays: days });
        result.replaceChildren(csvSavedNotice(connection, uploads));
        result.querySelector("a").focus();
      } catch (error) { showFormError(form, error); }
    }, "Saving…");
  });
  return form;
}

function csvSavedNotice(connection, uploads) {
  const latest = connection.csv?.latestBundle;
  return notice("success", statusBadge("connected"), " ", h("strong", {}, "OneRoster CSV files. "),
    `${SCHEDULE_NAMES[connection.csv?.csvSchedule] || ""}; bundles kept ${connection.csv?.retentionDays} days. `,
    latest ? `Latest bundle: ${when(latest.stagedAt)}. ` : "No bundle yet. ",
    h("a", { href: uploads }, "Upload a bundle"));
}

async function apiConnectionForm(page, saved) {
  const base = page.api.district(page.districtId);
  const local = page.config.mode === "local" ? page.config.local : null;
  const form = h("form", { class: "card", novalidate: true, id: "connection-form" });
  const hostUrl = h("input", { name: "hostUrl", inputmode: "url", autocomplete: "off", spellcheck: "false", value: saved?.hostUrl || "" });
  const clientId = h("input", { name: "clientId", autocomplete: "off", spellcheck: "false", value: saved?.clientId || "" });
  const secret = h("input", { name: "clientSecret", type: "password", autocomplete: "new-password" });
  const authMethod = h("select", { name: "authMethod" }, ["auto", "oauth1", "oauth2"].map((m) =>
    h("option", { value: m, selected: (saved?.requestedAuthMethod || "auto") === m }, AUTH_NAMES[m])));
  const tokenUrl = h("input", { name: "tokenUrl", inputmode: "url", autocomplete: "off", value: saved?.tokenUrl && saved?.requestedAuthMethod !== "auto" ? saved.tokenUrl : "" });
  const scope = h("input", { name: "scope", autocomplete: "off", value: saved?.scope || "" });
  const version = h("select", { name: "version" }, Object.entries(VERSION_NAMES).map(([v, label]) =>
    h("option", { value: v, selected: (saved?.requestedVersion || "auto") === v }, label)));
  const pathWarning = h("p", { class: "hint warning-text", hidden: true, id: uid("path-warning") },
    `The address includes ${ONEROSTER_PATH}: it will be removed (give the host, with any vendor path before it).`);
  hostUrl.addEventListener("input", () => { pathWarning.hidden = !hostUrl.value.includes(ONEROSTER_PATH); });

  const secretField = field("Client secret", secret, "Never shown back once saved.");
  const replace = h("button", { type: "button", class: "secondary" }, "Replace secret");
  const savedSecret = h("div", { class: "field saved-secret" }, h("span", { class: "label" }, "Client secret"),
    h("p", {}, "A secret is saved (it is never shown). ", replace));
  if (saved) secretField.hidden = true;
  replace.addEventListener("click", () => { savedSecret.hidden = true; secretField.hidden = false; secret.focus(); });

  const result = h("div", { "aria-live": "polite", id: "connection-result" });
  const submit = h("button", { type: "submit", class: "primary" }, "Test and save");
  const next = h("a", { class: "button secondary", href: `#/d/${encodeURIComponent(page.districtId)}/setup/3`, hidden: !saved }, "Next: match schools");
  if (saved) result.append(connectedNotice(saved));

  add(form, 
    field("Host URL", hostUrl, local?.sisHostUrl ? `The SIS's address, e.g. https://sis.example.org. Local sandbox: ${local.sisHostUrl}` : "The SIS's address, e.g. https://sis.example.org (with any vendor path)."),
    pathWarning,
    field("Client id", clientId, local?.sisClientId ? `Local sandbox: ${local.sisClientId}` : null),
    saved ? savedSecret : null, secretField,
    h("details", { class: "advanced", open: saved && (saved.requestedAuthMethod !== "auto" || (saved.requestedVersion || "auto") !== "auto") },
      h("summary", {}, "Advanced: OneRoster version, auth method, token URL, scope"),
      field("OneRoster version", version, "Detect uses 1.2 where the host serves it, else 1.1."),
      field("Auth method", authMethod, "Detect tries OAuth 2, then OAuth 1.0a."),
      field("Token URL (OAuth 2, optional)", tokenUrl, "Found on the host when left empty."),
      field("Scope (OAuth 2, optional)", scope, "The OneRoster read scopes of the version used when left empty.")),
    formError(),
    h("div", { class: "actions" }, submit, next),
    result);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    result.replaceChildren();
    const missing = [["hostUrl", hostUrl, "Enter the SIS's host URL."], ["clientId", clientId, "Enter the client id."]]
      .filter(([, input]) => !input.value.trim());
    if (!secret.value) {
      missing.push(["clientSecret", secret, saved ? "Enter the secret again to test and save the connection (it is never shown back)." : "Enter the client secret."]);
      secretField.hidden = false; savedSecret.hidden = true;
    }
    if (missing.length) {
      missing.forEach(([name, , message]) => showFieldError(form, name, message));
      form.querySelector(`[name="${missing[0][0]}"]`).focus();
      return;
    }
    const body = { hostUrl: hostUrl.value.trim(), clientId: clientId.value.trim(), clientSecret: secret.value, authMethod: authMethod.value, version: version.value };
    if (tokenUrl.value.trim()) body.tokenUrl = tokenUrl.value.trim();
    if (scope.value.trim()) body.scope = scope.value.trim();
    await busy(submit, async () => {
      try {
        const connection = await page.api.put(`${base}/sis/connection`, body);
        secret.value = "";
        secretField.hidden = true;
        if (!savedSecret.isConnected) secretField.before(savedSecret);
        savedSecret.hidden = false;
        hostUrl.value = connection.hostUrl;
        pathWarning.hidden = true;
        result.replaceChildren(connectedNotice(connection));
        next.hidden = false;
        next.focus();
      } catch (error) {
        showFormError(form, error);
      }
    }, "Testing the connection…");
  });
  return form;
}

function connectedNotice(connection) {
  return h("div", {},
    notice("success", statusBadge("connected"), " ", h("strong", {}, "Connected. "),
      `OneRoster ${connection.version || "1.1"}, auth method ${AUTH_NAMES[connection.authMethod] || connection.authMethod}. Last tested ${when(connection.connectedAt)}.`),
    (connection.warnings || []).map((w) => notice("warning", h("strong", {}, "Note: "), w)));
}

const VERSION_NAMES = { auto: "Detect (1.2 where served)", "1.1": "OneRoster 1.1", "1.2": "OneRoster 1.2" };

// ---------------------------------------------------------------- step 3
async function stepMatching(page) {
  const base = page.api.district(page.districtId);
  let sis;
  try {
    sis = await page.api.get(`${base}/sis/schools`);
  } catch (error) {
    if (error.code === "no_bundle_yet") return csvAwaitingBundle(page);
    return h("div", {}, errorBox(error), h("p", {}, h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/setup/2` }, "Check the connection (step 2)")));
  }
  const { schools: appSchools } = await page.api.get(`${base}/schools`);
  sis.fromBundle = await isCsvDistrict(page);
  const appSchoolsOwn = appSchools.filter((s) => !s.sisSourcedId || sis.schools.some((x) => x.matchedSchoolId === s.schoolId));
  const form = h("form", { class: "card", novalidate: true, id: "matching-form" });
  const search = h("input", { type: "search", name: "search", autocomplete: "off" });
  const rows = sis.schools.map((school) => {
    const selected = school.matchedSchoolId || school.suggestedSchoolId || "";
    const select = h("select", { name: `match-${school.sisSourcedId}`, dataset: { sisSourcedId: school.sisSourcedId } },
      h("option", { value: "" }, "New school (created by the first sync)"),
      appSchoolsOwn.map((s) => h("option", { value: s.schoolId, selected: s.schoolId === selected },
        `${s.name}${s.identifier ? ` (${s.identifier})` : ""}${s.schoolId === school.suggestedSchoolId && !school.matchedSchoolId ? " — suggested" : ""}`)));
    const label = `${school.name}${school.identifier ? ` (${school.identifier})` : ""}`;
    const row = h("li", { class: "match-row", dataset: { name: label.toLowerCase() } },
      field(label, select, school.matchedSchoolId ? "Matched" : school.suggestedSchoolId ? "Suggested match: check it" : null));
    return row;
  });
  const count = h("p", { class: "hint", "aria-live": "polite" }, `${sis.schools.length} SIS schools`);
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    rows.forEach((row) => { row.hidden = Boolean(q) && !row.dataset.name.includes(q); if (!row.hidden) shown += 1; });
    count.textContent = q ? `${shown} of ${sis.schools.length} SIS schools match “${search.value.trim()}”` : `${sis.schools.length} SIS schools`;
  });
  const submit = h("button", { type: "submit", class: "primary" }, "Save matches");
  const result = h("div", { "aria-live": "polite" });
  add(form, 
    h("p", {}, sis.fromBundle ? "Each school of the latest CSV bundle (its orgs.csv)" : "Each school your SIS lists",
      ", with the school already in the app it is the same as. Leave it as ",
      h("em", {}, "New school"), " and the first sync creates it."),
    sis.schools.length === 0 ? notice("warning", sis.fromBundle ? "The latest bundle lists no active schools." : "The SIS lists no active schools.") : null,
    appSchoolsOwn.length === 0 ? notice("info", "The app has no schools for this district yet: every SIS school will be new.") : null,
    field("Search SIS schools", search), count,
    h("ul", { class: "match-list" }, rows),
    formError(), h("div", { class: "actions" }, submit), result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    result.replaceChildren();
    const selects = [...form.querySelectorAll("select[data-sis-sourced-id]")];
    const matches = selects.filter((s) => s.value).map((s) => ({ sisSourcedId: s.dataset.sisSourcedId, schoolId: s.value }));
    const used = new Map();
    let duplicate = null;
    for (const s of selects.filter((x) => x.value)) {
      if (used.has(s.value)) { duplicate = duplicate || s; showFieldError(form, s.name, "This app school is already matched to another SIS school: each app school matches one SIS school."); }
      used.set(s.value, s);
    }
    if (duplicate) { duplicate.focus(); return; }
    await busy(submit, async () => {
      try {
        await page.api.put(`${base}/school-matches`, { matches });
        remember(page.districtId, 3);
        result.replaceChildren(notice("success", h("strong", {}, "Saved. "),
          `${matches.length} matched, ${sis.schools.length - matches.length} to be created. `,
          h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/setup/4`, id: "to-step-4" }, "Next: choose what to sync")));
        result.querySelector("a").focus();
      } catch (error) { showFormError(form, error); }
    }, "Saving…");
  });
  return form;
}

/** A CSV district reads steps 3 and 4 from its latest checked bundle. */
async function isCsvDistrict(page) {
  const connection = await getOrNull(page.api, `${page.api.district(page.districtId)}/sis/connection`, ["not_connected"]);
  return connection?.kind === "oneroster_csv";
}

function uploadLink(page, text) {
  return h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/uploads` }, text);
}

function csvAwaitingBundle(page) {
  return h("section", { class: "card", id: "no-bundle-yet" },
    notice("info", h("strong", {}, "CSV files: upload a bundle first. "), "Its schools are listed here once it is checked (",
      uploadLink(page, "CSV bundles"), "), to match them to the app's schools. Or go on without matching: the first sync creates every school."),
    h("div", { class: "actions" }, h("a", { class: "button primary", href: `#/d/${encodeURIComponent(page.districtId)}/setup/4` }, "Next: choose what to sync")));
}

// ---------------------------------------------------------------- step 4
function todayIn(timeZone) {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(new Date());
  const get = (t) => parts.find((p) => p.type === t).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** When the first nightly sync should run, before saving (the saved answer's nextSyncAt is exact). */
function firstNight(start, timeZone) {
  const today = todayIn(timeZone);
  const hour = Number(new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", hourCycle: "h23" }).format(new Date()));
  if (start > today) return `the night of ${start}, between 01:00 and 05:00 (${timeZone})`;
  if (hour < 5) return `tonight: today ${today} before 05:00 (${timeZone})`;
  const tomorrow = new Date(`${today}T12:00:00Z`);
  tomorrow.setUTCDate(tomorrow.getUTCDate() + 1);
  return `the night of ${tomorrow.toISOString().slice(0, 10)}, between 01:00 and 05:00 (${timeZone})`;
}

/** One filter (schools, grades or subjects): "everything" or a chosen list, with search and select all. */
function selectionFieldset(name, title, options, saved) {
  const legendId = uid("legend");
  const group = h("fieldset", { class: "selection", dataset: { selection: name } }, h("legend", { id: legendId }, title));
  const everything = h("input", { type: "radio", name: `${name}-mode`, value: "all", id: uid("all") });
  const chosen = h("input", { type: "radio", name: `${name}-mode`, value: "some", id: uid("some") });
  if (options.length === 0) {
    add(group, notice("info", `The SIS lists no ${title.toLowerCase()}: everything is synced, including records without one.`));
    group.value = () => null;
    return group;
  }
  const onlySome = saved !== null && saved !== undefined;
  everything.checked = !onlySome;
  chosen.checked = onlySome;
  const search = h("input", { type: "search", autocomplete: "off", "aria-label": `Search ${title.toLowerCase()}` });
  const boxes = options.map((o) => {
    const id = uid("opt");
    const box = h("input", { type: "checkbox", id, value: o.value, checked: onlySome && saved.includes(o.value) });
    return h("li", { dataset: { name: o.label.toLowerCase() } }, box, h("label", { for: id }, o.label));
  });
  const list = h("ul", { class: "checklist", "aria-labelledby": legendId });
  list.append(...boxes);
  const selectAll = h("button", { type: "button", class: "link-button" }, "Select all shown");
  const clear = h("button", { type: "button", class: "link-button" }, "Clear");
  const counter = h("span", { class: "hint", "aria-live": "polite" });
  const update = () => {
    const n = list.querySelectorAll("input:checked").length;
    counter.textContent = `${n} of ${options.length} chosen`;
    chooser.hidden = everything.checked;
    group.dispatchEvent(new Event("change", { bubbles: true }));
  };
  const chooser = h("div", { class: "chooser" }, h("div", { class: "chooser-tools" }, search, selectAll, clear, counter), list,
    h("p", { class: "field-error", id: `${name}-error`, hidden: true }));
  search.addEventListener("input", () => {
    const q = search.value.trim().toLowerCase();
    boxes.forEach((li) => { li.hidden = Boolean(q) && !li.dataset.name.includes(q); });
  });
  selectAll.addEventListener("click", () => { boxes.forEach((li) => { if (!li.hidden) li.querySelector("input").checked = true; }); update(); });
  clear.addEventListener("click", () => { boxes.forEach((li) => { li.querySelector("input").checked = false; }); update(); });
  list.addEventListener("change", update);
  everything.addEventListener("change", update);
  chosen.addEventListener("change", update);
  // The hidden input carries the field's name, so an API error about it lands here.
  const anchor = h("input", { type: "hidden", name });
  anchor.id = `${name}-anchor`;
  add(group, 
    h("div", { class: "radio" }, everything, h("label", { for: everything.id }, `Everything: all ${options.length} ${title.toLowerCase()}, and records without any`)),
    h("div", { class: "radio" }, chosen, h("label", { for: chosen.id }, `Only the ${title.toLowerCase()} I choose`)),
    chooser, anchor);
  group.value = () => (everything.checked ? null : [...list.querySelectorAll("input:checked")].map((b) => b.value));
  group.error = (message) => {
    const el = chooser.querySelector(".field-error");
    el.textContent = message; el.hidden = false;
    chooser.hidden = false;
    (list.querySelector("input") || search).focus();
  };
  update();
  return group;
}

/** How many of the SIS's classes are in a current or future term and how many are over (a warning
 * when most are: nothing would sync). */
function classTermsLine(terms) {
  if (!terms) return null;
  const line = `The SIS's active classes: ${terms.current.toLocaleString()} in a current or future term, ${terms.ended.toLocaleString()} in terms that are over (those do not sync).`;
  if (!terms.message) return h("p", { class: "hint", id: "class-terms" }, line);
  const box = notice("warning", h("strong", {}, "Most classes are over. "), terms.message);
  box.id = "class-terms";
  return box;
}

async function stepSelection(page) {
  const base = page.api.district(page.districtId);
  const district = await page.district();
  let options;
  let csvFirst = null;
  const fromBundle = await isCsvDistrict(page);
  try {
    options = await page.api.get(`${base}/sync-options`);
  } catch (error) {
    if (error.code !== "no_bundle_yet" && error.code !== "delta_bundle") return h("div", {}, errorBox(error));
    // A CSV district with no bulk bundle to read yet: everything can be saved; choices come with a bundle.
    csvFirst = error;
    options = { schools: [], grades: [], subjects: [], refreshedAt: null, classTerms: null };
  }
  const saved = await getOrNull(page.api, `${base}/sync-config`, ["not_configured"]);
  const today = todayIn(district.timezone);
  const form = h("form", { class: "card", novalidate: true, id: "selection-form" });
  const schoolNames = new Map(options.schools.map((s) => [s.sisSourcedId, s.name]));
  const schools = selectionFieldset("schools", "Schools", options.schools.map((s) => ({ value: s.sisSourcedId, label: s.name })), saved?.schools);
  const grades = selectionFieldset("grades", "Grades", options.grades.map((g) => ({ value: g, label: g })), saved?.grades);
  const subjects = selectionFieldset("subjects", "Subjects", options.subjects.map((s) => ({ value: s, label: s })), saved?.subjects);
  const minDate = saved && saved.startDate < today ? saved.startDate : today;
  const startDate = h("input", { type: "date", name: "startDate", min: minDate, value: saved?.startDate || today, required: true });
  const enabled = h("input", { type: "checkbox", name: "enabled", id: uid("enabled"), checked: saved ? saved.enabled : true });
  const review = h("div", { class: "review", "aria-live": "polite" });
  const describe = (values, all, names) => values === null ? all : values.length === 0 ? "nothing chosen yet" : values.map((v) => names?.get(v) || v).join(", ");
  const updateReview = () => {
    review.replaceChildren(h("h3", {}, "Review"), h("dl", {},
      h("dt", {}, "Schools"), h("dd", {}, describe(schools.value(), "every school", schoolNames)),
      h("dt", {}, "Grades"), h("dd", {}, describe(grades.value(), "every grade")),
      h("dt", {}, "Subjects"), h("dd", {}, describe(subjects.value(), "every subject")),
      h("dt", {}, "Nightly syncs"), h("dd", {}, enabled.checked
        ? `from ${startDate.value || "—"}, each night between 01:00 and 05:00 in ${district.timezone}`
        : "off (syncs run only when started by hand)"),
      enabled.checked && startDate.value ? [h("dt", {}, "First nightly sync"), h("dd", { id: "first-sync" }, firstNight(startDate.value, district.timezone))] : null));
  };
  form.addEventListener("change", updateReview);
  form.addEventListener("input", updateReview);
  const submit = h("button", { type: "submit", class: "primary" }, "Save");
  const previewButton = h("button", { type: "button", class: "secondary", id: "preview" }, "Preview these choices");
  const previewArea = h("div", { id: "preview-area", "aria-live": "polite" });
  const refresh = h("button", { type: "button", class: "secondary" }, fromBundle ? "Read the latest bundle again" : "Read the SIS again");
  refresh.addEventListener("click", () => busy(refresh, async () => {
    try { await page.api.get(`${base}/sync-options`, { refresh: "true" }); window.dispatchEvent(new HashChangeEvent("hashchange")); }
    catch (error) { showFormError(form, error); }
  }, fromBundle ? "Reading the bundle…" : "Reading the SIS…"));
  const result = h("div", { "aria-live": "polite", id: "selection-result" });
  if (saved) result.append(savedNotice(page, saved, district));
  add(form, 
    csvFirst
      ? notice("info", csvFirst.code === "no_bundle_yet"
        ? ["Upload a bundle first (", uploadLink(page, "CSV bundles"), "): once it is checked, its schools, grades and subjects can be chosen here. Until then you can save everything: every school, grade and subject of the bundle is synced."]
        : [csvFirst.message, " Until then you can save everything."])
      : h("p", {}, fromBundle ? "What the latest CSV bundle offers, read " : "What the SIS offers, read ", when(options.refreshedAt),
        ". A class is synced when its school, one of its grades and one of its subjects are chosen. ", refresh),
    classTermsLine(options.classTerms),
    schools, grades, subjects,
    h("fieldset", {}, h("legend", {}, "When"),
      field("Start date", startDate, `The first night syncs may run. Today in ${district.timezone} is ${today}; earlier dates are not allowed.`),
      h("div", { class: "checkbox" }, enabled, h("label", { for: enabled.id }, "Sync every night"))),
    review, formError(), h("div", { class: "actions" }, previewButton, submit), previewArea, result);
  updateReview();
  // The same checks as saving, then a read-only sync of exactly what would be saved.
  const proposal = () => {
    clearFieldErrors(form);
    for (const group of [schools, grades, subjects]) {
      const value = group.value();
      if (value !== null && value.length === 0) { group.error("Choose at least one, or choose everything."); return null; }
    }
    if (!startDate.value || startDate.value < minDate) { showFieldError(form, "startDate", `Choose ${minDate} or later.`); startDate.focus(); return null; }
    return { schools: schools.value(), grades: grades.value(), subjects: subjects.value(), startDate: startDate.value, enabled: enabled.checked };
  };
  previewButton.addEventListener("click", () => {
    const body = proposal();
    if (body) busy(previewButton, () => runPreview(page, body, previewArea), "Previewing…");
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    result.replaceChildren();
    for (const group of [schools, grades, subjects]) {
      const value = group.value();
      if (value !== null && value.length === 0) {
        return group.error(`Choose at least one, or choose everything.`);
      }
    }
    if (!startDate.value) return showFieldError(form, "startDate", "Choose a start date.") && startDate.focus();
    if (startDate.value < minDate) return showFieldError(form, "startDate", `Choose ${minDate} or later.`) && startDate.focus();
    const body = { schools: schools.value(), grades: grades.value(), subjects: subjects.value(), startDate: startDate.value, enabled: enabled.checked };
    await busy(submit, async () => {
      try {
        const config = await page.api.put(`${base}/sync-config`, body);
        result.replaceChildren(savedNotice(page, config, district));
        result.querySelector("a").focus();
      } catch (error) {
        const group = { schools, grades, subjects }[error.field];
        if (group) { showFormError(form, { status: error.status, code: error.code, message: error.message, field: null }); group.error(error.message); } else showFormError(form, error);
      }
    }, "Saving…");
  });
  return form;
}

function savedNotice(page, config, district) {
  return notice("success", h("strong", {}, "Saved. "),
    config.nextSyncAt ? `The first nightly sync runs at ${when(config.nextSyncAt, district.timezone)} (district time), or start one now. `
      : "Nightly syncs are off; start a sync by hand. ",
    h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/syncs`, id: "to-syncs" }, "Go to syncs"));
}
