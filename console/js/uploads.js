// A CSV district's bundles: upload one (the API hands a presigned S3 form; the zip goes straight to
// S3), watch it being checked and the sync it queues, and see what became of the latest ones.

import { ApiError } from "./api.js";
import {
  add, busy, clearFieldErrors, errorBox, field, formError, h, notice, showFieldError, showFormError, statusBadge, when,
} from "./ui.js";

const POLL_MS = 1000;
const STATE_WORDS = { awaiting: "Not arrived", staged: "Checked", rejected: "Refused" };
const NEXT_WORDS = {
  queued: "a sync was started",
  tonight: "tonight's sync reads it",
  after_current_run: "a sync was running: the next one reads it",
};
const ACTIVE = new Set(["queued", "running"]);

function megabytes(bytes) { return `${(bytes / 1024 / 1024).toFixed(bytes < 1024 * 1024 ? 2 : 1)} MB`; }

export async function renderUploads(page, onLeave) {
  const base = page.api.district(page.districtId);
  const link = (runId) => h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/syncs/${encodeURIComponent(runId)}` }, "the run");
  let listing;
  try {
    listing = await page.api.get(`${base}/csv-uploads`);
  } catch (error) {
    if (error.code !== "not_csv") throw error;
    return page.render(h("h1", {}, "CSV bundles"), notice("info", "This district's SIS connection is not OneRoster CSV files. ",
      h("a", { href: `#/d/${encodeURIComponent(page.districtId)}/setup/2` }, "Choose CSV files at step 2"), " to upload bundles."));
  }
  const tz = (await page.district()).timezone;
  let stopped = false;
  onLeave(() => { stopped = true; });
  const sleep = () => new Promise((resolve) => setTimeout(resolve, POLL_MS));

  const file = h("input", { type: "file", name: "bundle", accept: ".zip,application/zip" });
  const submit = h("button", { type: "submit", class: "primary" }, "Upload");
  const status = h("div", { id: "upload-status", "aria-live": "polite" });
  const form = h("form", { class: "card", novalidate: true, id: "upload-form" });
  add(form,
    h("p", {}, "A OneRoster CSV bundle: one zip holding manifest.csv and the files it lists (orgs, academicSessions, courses, classes, users, enrollments, ...). It is checked as soon as it arrives."),
    field("Bundle (zip)", file), formError(), h("div", { class: "actions" }, submit), status);
  const history = h("section", { class: "card", id: "upload-history", "aria-labelledby": "history-title" });
  const latest = h("p", { id: "latest-bundle" });

  const showHistory = (data) => {
    latest.replaceChildren(data.latestBundle
      ? `The next sync reads the bundle checked ${when(data.latestBundle.stagedAt, tz)} (OneRoster ${data.latestBundle.version}).`
      : "No bundle has been checked yet.");
    history.replaceChildren(h("h2", { id: "history-title" }, "Latest bundles"), latest,
      data.uploads.length === 0 ? h("p", {}, "Nothing uploaded yet.") : h("ul", { class: "upload-list" }, data.uploads.map((u) =>
        h("li", { dataset: { state: u.state } },
          h("strong", {}, STATE_WORDS[u.state] || u.state), " ",
          when(u.receivedAt || u.createdAt, tz), u.size ? ` · ${megabytes(u.size)}` : "",
          u.state === "staged" && u.next ? ` · ${NEXT_WORDS[u.next] || u.next}` : "",
          u.runId ? [" · ", link(u.runId)] : null,
          u.error ? h("p", { class: "error-text" }, u.error) : null))));
  };
  showHistory(listing);

  async function follow(uploadId) {
    let upload;
    for (;;) {
      if (stopped) return;
      upload = await page.api.get(`${base}/csv-uploads/${encodeURIComponent(uploadId)}`);
      if (upload.state !== "awaiting") break;
      await sleep();
    }
    showHistory(await page.api.get(`${base}/csv-uploads`));
    if (upload.state === "rejected") {
      const problem = /[.!?]$/.test(upload.error || "") ? upload.error : `${upload.error}.`;
      status.replaceChildren(notice("error", h("strong", {}, "The bundle was refused. "), problem, " Nothing was written: correct the bundle and upload it again."));
      return;
    }
    const said = notice("success", h("strong", {}, "Checked. "), `The bundle is ready: ${NEXT_WORDS[upload.next] || upload.next}.`);
    status.replaceChildren(said);
    if (!upload.runId) return;
    const runLine = h("p", { id: "upload-run" });
    status.append(runLine);
    for (;;) {
      if (stopped) return;
      const run = await page.api.get(`${base}/syncs/${encodeURIComponent(upload.runId)}`);
      const created = Object.values(run.counts || {}).reduce((n, c) => n + (c.created || 0), 0);
      runLine.replaceChildren("Sync: ", statusBadge(run.status), " ",
        run.status === "succeeded" ? `${created} records created. ` : run.failure ? `${run.failure} ` : "", "See ", link(run.runId), ".");
      runLine.dataset.status = run.status;
      if (!ACTIVE.has(run.status)) return;
      await sleep();
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearFieldErrors(form);
    status.replaceChildren();
    const chosen = file.files && file.files[0];
    if (!chosen) { showFieldError(form, "bundle", "Choose the bundle's zip file."); file.focus(); return; }
    const uploadId = await busy(submit, async () => {
      try {
        const ticket = await page.api.post(`${base}/csv-uploads`);
        if (chosen.size > ticket.maxBytes) {
          showFieldError(form, "bundle", `The file is ${megabytes(chosen.size)}; a bundle may be at most ${megabytes(ticket.maxBytes)}.`);
          return null;
        }
        const body = new FormData();
        for (const [name, value] of Object.entries(ticket.fields)) body.append(name, value);
        body.append("file", chosen);  // after the fields: S3 reads the form in order
        let sent;
        try { sent = await fetch(ticket.url, { method: "POST", body }); } catch {
          throw new ApiError(0, "upload_failed", "The upload did not reach storage. Check your connection and try again.");
        }
        if (!sent.ok) throw new ApiError(sent.status, "upload_refused", `Storage refused the upload (${sent.status}).`);
        status.replaceChildren(notice("info", "Uploaded. Checking the bundle…"));
        return ticket.uploadId;
      } catch (error) { showFormError(form, error); return null; }
    }, "Uploading…");
    if (uploadId) {
      try { await follow(uploadId); } catch (error) { status.replaceChildren(errorBox(error)); }
    }
  });

  page.render(h("h1", {}, "CSV bundles"), form, history);
}
