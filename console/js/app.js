// The console: boot (config.json, sign-in), the hash router, the districts page and the
// district's overview. The setup wizard, syncs and rosters live in their own modules.

import { Api } from "./api.js";
import {
  completeHostedSignIn, currentSession, localDistricts, localSignIn, mayUseConsole, signOut, startHostedSignIn,
} from "./auth.js";
import { renderAudit, renderHealth, renderMatching, renderPurge, renderTerms } from "./district_pages.js";
import { renderPerson, renderRoster, renderRosters } from "./rosters.js";
import { renderSetup, setupProgress } from "./setup.js";
import { renderRun, renderSyncs, statusSummary } from "./syncs.js";
import { renderUploads } from "./uploads.js";
import { add, busy, errorBox, field, formError, h, notice, render, showFormError, statusBadge } from "./ui.js";

const ctx = { config: null, session: null, api: null, districts: new Map(), stopTimers: [], navigation: 0 };

/** Timers a page starts (progress polling) stop when the page changes. */
export function onLeave(stop) { ctx.stopTimers.push(stop); }

async function boot() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`config.json answered ${response.status}`);
    ctx.config = await response.json();
  } catch (error) {
    render(h("h1", {}, "The console is not configured"),
      notice("error", `It could not read its config.json (${error.message}). Deployed, run `,
        h("code", {}, "rostersync console config --upload"), "."));
    return;
  }
  if (ctx.config.mode === "cognito") {
    try {
      await completeHostedSignIn(ctx.config);
    } catch (error) {
      render(h("h1", {}, "Sign-in failed"), notice("error", error.message), signInButton());
      return;
    }
  }
  ctx.session = currentSession();
  ctx.api = new Api(ctx.config.apiUrl, () => ctx.session?.idToken, () => {
    ctx.session = null;
    sessionStorage.removeItem("rostersync.session");
  });
  window.addEventListener("hashchange", route);
  route();
}

function renderAccount() {
  const account = document.getElementById("account");
  account.replaceChildren();
  if (ctx.config.mode === "local") account.append(h("span", { class: "local-badge", title: "Local stack: not a real sign-in" }, "Local only"));
  if (ctx.session) {
    account.append(h("span", { class: "who" }, roleName(ctx.session.role)),
      h("button", { type: "button", class: "link-button", onclick: () => signOut(ctx.config) }, "Sign out"));
  }
}

function renderNav(districtId) {
  const nav = document.getElementById("nav");
  nav.replaceChildren();
  if (!ctx.session || !mayUseConsole(ctx.session)) return;
  const links = [];
  if (ctx.session.role === "platform_admin") links.push(["#/", "All districts"]);
  if (districtId) {
    const base = `#/d/${encodeURIComponent(districtId)}`;
    links.push([base, "Overview"], [`${base}/setup`, "Setup"], [`${base}/syncs`, "Syncs"], [`${base}/uploads`, "CSV bundles"], [`${base}/rosters/teachers`, "Rosters"],
      [`${base}/matching`, "Matching"], [`${base}/terms`, "Terms"], [`${base}/health`, "Health"], [`${base}/audit`, "Audit log"],
      [`${base}/purge`, "Purge"]);
  }
  const current = window.location.hash || "#/";
  const list = h("ul", {}, links.map(([href, text]) => {
    const active = href === current || (href !== "#/" && current.startsWith(href + "/") && text !== "Overview");
    return h("li", {}, h("a", { href, "aria-current": active ? "page" : null }, text));
  }));
  nav.append(list);
}

function roleName(role) {
  return { platform_admin: "Platform admin", district_admin: "District admin", teacher: "Teacher" }[role] || role || "No role";
}

async function route() {
  ctx.stopTimers.splice(0).forEach((stop) => stop());
  ctx.navigation += 1;
  ctx.session = currentSession();
  renderAccount();
  const hash = window.location.hash.replace(/^#/, "") || "/";
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  if (!ctx.session) { renderNav(null); return renderSignIn(); }
  if (!mayUseConsole(ctx.session)) { renderNav(null); return renderNotAllowed(); }
  if (parts[0] !== "d") {
    if (ctx.session.role === "district_admin") {
      window.location.replace(`#/d/${encodeURIComponent(ctx.session.districtId)}`);
      return;
    }
    renderNav(null);
    return renderDistricts();
  }
  const districtId = parts[1];
  // A district admin's menu is always their own district's, whatever the address says.
  renderNav(ctx.session.role === "district_admin" ? ctx.session.districtId : districtId);
  // A page renders only while it is still the page asked for: a slow answer for a page the
  // admin has already left must not replace the one they are on.
  const navigation = ctx.navigation;
  const page = { ...ctx, districtId, district: () => districtProfile(districtId), forget: () => ctx.districts.delete(districtId),
    current: () => navigation === ctx.navigation,
    render: (...children) => { if (navigation === ctx.navigation) render(...children); } };
  try {
    if (parts.length === 2) return await renderOverview(page);
    if (parts[2] === "setup") return await renderSetup(page, parts[3] ? Number(parts[3]) : null);
    if (parts[2] === "syncs" && parts[3]) return await renderRun(page, parts[3], onLeave);
    if (parts[2] === "syncs") return await renderSyncs(page, onLeave);
    if (parts[2] === "uploads") return await renderUploads(page, onLeave);
    if (parts[2] === "rosters") return await renderRosters(page, parts[3] || "teachers");
    if (parts[2] === "classes" && parts[3]) return await renderRoster(page, parts[3]);
    if (parts[2] === "users" && parts[3]) return await renderPerson(page, parts[3]);
    if (parts[2] === "matching") return await renderMatching(page);
    if (parts[2] === "audit") return await renderAudit(page);
    if (parts[2] === "health") return await renderHealth(page);
    if (parts[2] === "terms") return await renderTerms(page);
    if (parts[2] === "purge") return await renderPurge(page, onLeave);
    page.render(h("h1", {}, "Page not found"), h("p", {}, h("a", { href: `#/d/${encodeURIComponent(districtId)}` }, "Back to the district")));
  } catch (error) {
    page.render(h("h1", {}, "This page could not be shown"), errorBox(error),
      error.status === 401 ? signInButton() : h("p", {}, h("a", { href: "#/" }, "Back to the start")));
  }
}

async function districtProfile(districtId) {
  if (!ctx.districts.has(districtId)) ctx.districts.set(districtId, await ctx.api.get(ctx.api.district(districtId)));
  return ctx.districts.get(districtId);
}

// ---------------------------------------------------------------- sign-in
function signInButton() {
  if (ctx.config.mode === "cognito") {
    return h("p", {}, h("button", { type: "button", class: "primary", id: "sign-in", onclick: () => startHostedSignIn(ctx.config) }, "Sign in"));
  }
  return h("p", {}, h("button", { type: "button", class: "primary", onclick: () => {
    sessionStorage.clear();
    window.location.hash = "#/";
    window.location.reload();
  } }, "Sign in again"));
}

async function renderSignIn() {
  if (ctx.config.mode === "cognito") {
    render(h("h1", {}, "Sign in"),
      h("p", {}, "Sign in with your district administrator account. You will be taken to the sign-in page and brought back here."),
      signInButton());
    return;
  }
  const districts = await localDistricts(ctx.config).catch(() => []);
  const form = h("form", { class: "card", novalidate: true });
  const role = h("select", { name: "role" },
    h("option", { value: "district_admin" }, "District admin"),
    h("option", { value: "platform_admin" }, "Platform admin (support: creates districts)"),
    h("option", { value: "teacher" }, "Teacher (not allowed in the console)"));
  const districtSelect = h("select", { name: "districtId" },
    districts.length ? null : h("option", { value: "" }, "No districts yet: sign in as platform admin to create one"),
    districts.map((d) => h("option", { value: d.districtId }, `${d.name} (${d.districtId})`)));
  const districtField = field("District", districtSelect, "The district this account administers.");
  const syncDistrictField = () => { districtField.hidden = role.value === "platform_admin"; };
  role.addEventListener("change", syncDistrictField);
  if (!districts.length) role.value = "platform_admin";
  syncDistrictField();
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  add(form, field("Sign in as", role), districtField, formError(), h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(submit, async () => {
      try {
        await localSignIn(ctx.config, role.value, role.value === "platform_admin" ? null : districtSelect.value);
        if (window.location.hash === "#/") route(); else window.location.hash = "#/";
      } catch (error) {
        showFormError(form, { status: error.status, code: error.code, field: error.code === "invalid_request" ? "districtId" : null, message: error.message });
      }
    }, "Signing in…");
  });
  render(h("h1", {}, "Sign in (local stack)"),
    notice("warning", h("strong", {}, "Local only. "),
      "This sign-in exists on the local stack alone: it hands out the same tokens as ",
      h("code", {}, "rostersync local token"), ". Deployed, the console signs in through the Cognito hosted UI."),
    form);
}

function renderNotAllowed() {
  render(h("h1", {}, "Not allowed"),
    notice("error", `You are signed in as ${roleName(ctx.session.role).toLowerCase()}. `,
      "The console is for district administrators (their own district) and platform administrators. ",
      "Ask your district's administrator if you need access."),
    h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => signOut(ctx.config) }, "Sign out")));
}

// ---------------------------------------------------------------- platform admins: districts
async function renderDistricts(cursor) {
  const page = await ctx.api.get("/districts", { limit: 50, cursor }).catch((error) => ({ error }));
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : ["America/Chicago"];
  const form = h("form", { class: "card", novalidate: true });
  const name = h("input", { name: "name", required: true, autocomplete: "off" });
  const zone = h("select", { name: "timezone" }, zones.map((z) => h("option", { value: z, selected: z === "America/Chicago" }, z)));
  const submit = h("button", { type: "submit", class: "primary" }, "Create district");
  add(form, h("h2", {}, "New district"), field("Name", name), field("Time zone", zone, "Nightly syncs run in the district's night, in this zone."),
    formError(), h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(submit, async () => {
      try {
        const created = await ctx.api.post("/districts", { name: name.value, timezone: zone.value });
        ctx.districts.set(created.districtId, created);
        window.location.hash = `#/d/${encodeURIComponent(created.districtId)}`;
      } catch (error) { showFormError(form, error); }
    });
  });
  const list = page.error ? errorBox(page.error) : page.districts.length === 0
    ? h("p", { class: "empty" }, "No districts yet. Create the first one below.")
    : h("ul", { class: "district-list" }, page.districts.map((d) => h("li", {},
      h("a", { href: `#/d/${encodeURIComponent(d.districtId)}` }, d.name), h("span", { class: "muted" }, ` ${d.timezone} · ${d.districtId}`))));
  render(h("h1", {}, "Districts"), list,
    page.nextCursor ? h("p", {}, h("button", { type: "button", class: "secondary", onclick: () => renderDistricts(page.nextCursor) }, "More districts")) : null,
    form);
}

// ---------------------------------------------------------------- a district's overview
async function renderOverview(page) {
  const district = await page.district();
  const base = `#/d/${encodeURIComponent(page.districtId)}`;
  const progress = await setupProgress(page);
  const status = await statusSummary(page);
  const nextStep = progress.findIndex((done) => !done) + 1;
  const steps = ["About OneRoster", "Connect the SIS", "Match schools", "Choose what to sync"];
  const children = [
    h("h1", {}, district.name),
    h("p", { class: "muted", id: "district-summary" }, `Time zone ${district.timezone} · ${district.districtId}`),
    status,
    h("section", { class: "card", "aria-labelledby": "setup-title" },
      h("h2", { id: "setup-title" }, "Setup"),
      h("ol", { class: "steps-summary" }, steps.map((title, i) => h("li", {},
        h("a", { href: `${base}/setup/${i + 1}` }, title), " ", progress[i] ? statusBadge("done") : h("span", { class: "muted" }, "to do")))),
      nextStep > 0
        ? h("p", {}, h("a", { class: "button primary", href: `${base}/setup/${nextStep}` }, nextStep === 1 ? "Start setup" : `Continue setup at step ${nextStep}`))
        : h("p", {}, "Setup is complete. ", h("a", { href: `${base}/syncs` }, "See the syncs"), ".")),
  ];
  children.push(districtDetailsCard(page, district));
  if (ctx.session.role === "platform_admin") children.push(await appSchoolsCard(page));
  page.render(...children);
}

/** The district's name and time zone (PATCH /districts/{id}); contacts are on the Health page. */
function districtDetailsCard(page, district) {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [district.timezone];
  const form = h("form", { class: "card", novalidate: true, id: "district-details", "aria-labelledby": "district-details-title" });
  const name = h("input", { name: "name", autocomplete: "off", value: district.name });
  const zone = h("select", { name: "timezone" }, (zones.includes(district.timezone) ? zones : [district.timezone, ...zones])
    .map((z) => h("option", { value: z, selected: z === district.timezone }, z)));
  const submit = h("button", { type: "submit", class: "secondary" }, "Save details");
  const saved = h("div", { "aria-live": "polite", id: "district-details-result" });
  add(form, h("h2", { id: "district-details-title" }, "District details"),
    field("Name", name), field("Time zone", zone, "Nightly syncs run in the district's night, in this zone; times on these pages are shown in it."),
    formError(), h("div", { class: "actions" }, submit), saved);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(submit, async () => {
      try {
        const changed = await page.api.request("PATCH", page.api.district(page.districtId), { body: { name: name.value, timezone: zone.value } });
        ctx.districts.set(page.districtId, changed);
        // The page's heading and summary say the new name and zone (the page is not redrawn: focus stays here).
        document.querySelector("#main h1").textContent = changed.name;
        document.getElementById("district-summary").textContent = `Time zone ${changed.timezone} · ${changed.districtId}`;
        saved.replaceChildren(notice("success", h("strong", {}, "Saved. "), `${changed.name}, ${changed.timezone}.`));
      } catch (error) { showFormError(form, error); }
    }, "Saving…");
  });
  return form;
}

/** Platform admins: the schools that exist in the app before the SIS is connected (step 3 matches them). */
async function appSchoolsCard(page) {
  const { schools } = await page.api.get(`${page.api.district(page.districtId)}/schools`);
  const form = h("form", { class: "inline-form", novalidate: true });
  const name = h("input", { name: "name", autocomplete: "off" });
  const identifier = h("input", { name: "identifier", autocomplete: "off" });
  const submit = h("button", { type: "submit", class: "secondary" }, "Add school");
  add(form, field("School name", name), field("Identifier (optional)", identifier, "e.g. the state school code"), formError(), submit);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await busy(submit, async () => {
      try {
        await page.api.post(`${page.api.district(page.districtId)}/schools`, { name: name.value, identifier: identifier.value || null });
        route();
      } catch (error) { showFormError(form, error); }
    });
  });
  return h("section", { class: "card", "aria-labelledby": "app-schools" },
    h("h2", { id: "app-schools" }, "Schools already in the app"),
    h("p", { class: "hint" }, "Support adds these before the SIS is connected; step 3 matches SIS schools to them."),
    schools.length ? h("ul", {}, schools.map((s) => h("li", {}, s.name, s.identifier ? h("span", { class: "muted" }, ` (${s.identifier})`) : null)))
      : h("p", { class: "empty" }, "None yet."),
    form);
}

boot();
