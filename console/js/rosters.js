// Rosters: the synced teachers, students and classes, a page at a time with the API's
// cursors, and a class's roster. Teachers and students are sorted by family name and searched
// by the API across the whole district (?sort=name, ?q=: name, email, username or SIS id);
// the classes' search narrows the page shown.

import { busy, errorBox, h, statusBadge } from "./ui.js";

const KINDS = { teachers: "Teachers", students: "Students", classes: "Classes" };
const PAGE_SIZE = 50;

const rosterHref = (page, kind) => `#/d/${encodeURIComponent(page.districtId)}/rosters/${kind}`;

export async function renderRosters(page, kind) {
  if (!KINDS[kind]) kind = "teachers";
  const base = page.api.district(page.districtId);
  const { schools } = await page.api.get(`${base}/schools`);
  const schoolName = new Map(schools.map((s) => [s.schoolId, s.name]));
  const school = h("select", { id: "roster-school", name: "schoolId" }, h("option", { value: "" }, "All schools"),
    schools.map((s) => h("option", { value: s.schoolId }, s.name)));
  const status = h("select", { id: "roster-status", name: "status" },
    ["active", "inactive", "all"].map((s) => h("option", { value: s }, s[0].toUpperCase() + s.slice(1))));
  const people = kind !== "classes";
  const search = h("input", { type: "search", id: "roster-search", autocomplete: "off", name: "q" });
  const searchForm = h("form", { role: "search", class: "field search-form", id: "roster-search-form" },
    h("label", { for: "roster-search" }, people ? `Search all ${KINDS[kind].toLowerCase()}` : "Search this page"),
    h("div", { class: "inline-controls" }, search, people ? h("button", { type: "submit", class: "secondary" }, "Search") : null),
    people ? h("p", { class: "hint" }, "A family name's start (“smi”, “Smith, Jo”), or an exact email, username or SIS id.") : null);
  const table = h("div", { class: "table-wrap", id: "roster-table" });
  const info = h("p", { class: "hint", "aria-live": "polite", id: "roster-info" });
  const error = h("div", {});
  const prev = h("button", { type: "button", class: "secondary" }, "Previous page");
  const next = h("button", { type: "button", class: "secondary", id: "roster-next" }, "Next page");
  let items = [];
  let cursors = [undefined]; // the cursor of each page shown so far; the last is this page's
  let nextCursor = null;

  const columns = kind === "classes"
    ? [["Title", (c) => h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/classes/${encodeURIComponent(c.classId)}` }, c.title)],
      ["Code", (c) => c.classCode || "—"], ["School", (c) => schoolName.get(c.schoolId) || c.schoolId],
      ["Grades", (c) => (c.grades || []).join(", ") || "—"], ["Subjects", (c) => (c.subjects || []).join(", ") || "—"], ["Status", (c) => statusBadge(c.status)]]
    : [["Name", (u) => h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/users/${encodeURIComponent(u.userId)}` }, `${u.familyName || ""}, ${u.givenName || ""}`)], ["Email", (u) => u.email || "—"],
      ["Username", (u) => u.username || "—"], ["Grades", (u) => (u.grades || []).join(", ") || "—"],
      ["Schools", (u) => (u.schoolIds || []).map((id) => schoolName.get(id) || id).join(", ") || "—"], ["Origin", (u) => (u.origin === "app" ? "App" : "SIS")],
      ["Status", (u) => statusBadge(u.status)]];
  const text = (item) => (kind === "classes" ? [item.title, item.classCode, item.sisSourcedId]
    : [item.givenName, item.familyName, item.email, item.username, item.sisSourcedId]).join(" ").toLowerCase();

  const draw = () => {
    const q = people ? "" : search.value.trim().toLowerCase();
    const shown = q ? items.filter((i) => text(i).includes(q)) : items;
    const searched = people ? search.value.trim() : "";
    table.replaceChildren(h("table", { class: "roster" },
      h("caption", { class: "visually-hidden" }, KINDS[kind]),
      h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, shown.length ? shown.map((item) => h("tr", { dataset: { id: item.userId || item.classId } },
        columns.map(([title, cell]) => h("td", { dataset: { label: title } }, cell(item)))))
        : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, items.length ? "Nothing on this page matches."
          : searched ? `No ${KINDS[kind].toLowerCase()} match “${searched}”.` : `No ${KINDS[kind].toLowerCase()} here.`)))));
    const pageNo = cursors.length;
    info.textContent = `Page ${pageNo}: ${items.length} ${KINDS[kind].toLowerCase()}` + (searched ? ` matching “${searched}”` : people ? ", by family name" : "")
      + (q ? `, ${shown.length} matching “${search.value.trim()}” on this page` : "") + (nextCursor ? "; more on the next page" : "");
    prev.hidden = cursors.length <= 1;
    next.hidden = !nextCursor;
  };
  const load = async () => {
    const query = { limit: PAGE_SIZE, status: status.value, schoolId: school.value || undefined, cursor: cursors[cursors.length - 1] };
    try {
      const result = kind === "classes"
        ? await page.api.get(`${base}/classes`, query)
        : await page.api.get(`${base}/users`, { ...query, role: kind === "teachers" ? "teacher" : "student",
          q: search.value.trim() || undefined, sort: search.value.trim() ? undefined : "name" });
      items = result.classes || result.users;
      nextCursor = result.nextCursor;
      error.replaceChildren();
    } catch (e) {
      items = []; nextCursor = null;
      error.replaceChildren(errorBox(e));
    }
    draw();
  };
  const restart = () => { cursors = [undefined]; return load(); };
  school.addEventListener("change", restart);
  status.addEventListener("change", restart);
  if (people) searchForm.addEventListener("submit", (event) => { event.preventDefault(); restart(); });
  else {
    search.addEventListener("input", draw);
    searchForm.addEventListener("submit", (event) => event.preventDefault());
  }
  next.addEventListener("click", () => busy(next, async () => { cursors.push(nextCursor); await load(); }, "Loading…"));
  prev.addEventListener("click", () => busy(prev, async () => { cursors.pop(); await load(); }, "Loading…"));

  page.render(h("h1", {}, KINDS[kind]),
    h("nav", { "aria-label": "Roster lists", class: "tabs" }, h("ul", {}, Object.entries(KINDS).map(([k, title]) =>
      h("li", {}, h("a", { href: rosterHref(page, k), "aria-current": k === kind ? "page" : null }, title))))),
    h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: "roster-school" }, "School"), school),
      h("div", { class: "field" }, h("label", { for: "roster-status" }, "Status"), status),
      searchForm),
    error, info, table, h("div", { class: "actions" }, prev, next));
  await load();
}

export async function renderRoster(page, classId) {
  const base = page.api.district(page.districtId);
  const [roster, cls] = await Promise.all([
    page.api.get(`${base}/classes/${encodeURIComponent(classId)}/roster`),
    page.api.get(`${base}/classes/${encodeURIComponent(classId)}`).catch(() => null),
  ]);
  const people = (title, users, id) => h("section", { class: "card", "aria-labelledby": id },
    h("h2", { id }, `${title} (${users.length})`),
    users.length ? h("ul", { class: "people", id: `${id}-list` }, users.map((u) => h("li", { dataset: { id: u.userId } },
      h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/users/${encodeURIComponent(u.userId)}` }, `${u.givenName || ""} ${u.familyName || ""}`.trim() || u.userId), u.email ? h("span", { class: "muted" }, ` ${u.email}`) : null)))
      : h("p", { class: "empty" }, `No ${title.toLowerCase()}.`));
  page.render(h("h1", {}, cls ? cls.title : "Class roster"),
    h("p", {}, h("a", { href: rosterHref(page, "classes") }, "← All classes")),
    cls ? h("p", { class: "muted" }, [cls.classCode, (cls.grades || []).join(", "), (cls.subjects || []).join(", ")].filter(Boolean).join(" · ")) : null,
    people("Teachers", roster.teachers, "roster-teachers"), people("Students", roster.students, "roster-students"));
}



/** One person (GET users/{userId}) and their classes (GET users/{userId}/classes), every status. */
export async function renderPerson(page, userId) {
  const base = page.api.district(page.districtId);
  const path = `${base}/users/${encodeURIComponent(userId)}`;
  const [user, { schools }] = await Promise.all([page.api.get(path), page.api.get(`${base}/schools`, { status: "all", limit: 200 })]);
  const schoolName = new Map(schools.map((s) => [s.schoolId, s.name]));
  const classes = [];
  let cursor;
  do {
    const answer = await page.api.get(`${path}/classes`, { status: "all", limit: 200, cursor });
    classes.push(...answer.classes);
    cursor = answer.nextCursor;
  } while (cursor && classes.length < 1000);
  const kind = user.role === "teacher" ? "teachers" : "students";
  const facts = [["Role", user.role], ["Status", statusBadge(user.status)], ["Email", user.email], ["Username", user.username],
    ["Grades", (user.grades || []).join(", ")], ["Schools", (user.schoolIds || []).map((id) => schoolName.get(id) || id).join(", ")],
    ["Origin", user.origin === "app" ? (user.sisSourcedId ? "Registered by the app, linked to the SIS" : "Registered by the app") : "The SIS"],
    ["SIS id", user.sisSourcedId], ["App id", user.userId]];
  page.render(h("h1", {}, `${user.givenName || ""} ${user.familyName || ""}`.trim() || user.userId),
    h("p", {}, h("a", { href: rosterHref(page, kind) }, `← All ${kind}`)),
    h("section", { class: "card", "aria-labelledby": "person-title" }, h("h2", { id: "person-title" }, "Details"),
      h("dl", { class: "facts", id: "person-facts" }, facts.filter(([, v]) => v).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    h("section", { class: "card", "aria-labelledby": "person-classes-title" },
      h("h2", { id: "person-classes-title" }, `Classes (${classes.length.toLocaleString()})`),
      classes.length ? h("ul", { class: "people", id: "person-classes" }, classes.map((c) => h("li", { dataset: { id: c.classId } },
        h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/classes/${encodeURIComponent(c.classId)}` }, c.title || c.classId),
        c.status !== "active" ? h("span", { class: "muted" }, " (inactive)") : null,
        c.schoolId ? h("span", { class: "muted" }, ` · ${schoolName.get(c.schoolId) || c.schoolId}`) : null)))
        : h("p", { class: "empty" }, "No classes.")));
}
