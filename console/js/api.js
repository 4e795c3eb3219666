// The HTTP API: every call returns the parsed JSON or throws an ApiError made from the
// API's one error shape {"error": {"code", "message"}} (and from what API Gateway itself
// answers before the function: {"message": "Unauthorized"}).

export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.field = fieldOf(code, message);
  }
}

// Which form field an error concerns: codes that always name one, else the field a 422
// message starts with ("startDate must be ...", "schools: ...", "matches[0].schoolId ...").
const FIELD_OF_CODE = {
  invalid_credentials: "clientSecret",
  unreachable_host: "hostUrl",
  invalid_host_url: "hostUrl",
  not_oneroster: "hostUrl",
  start_date_in_past: "startDate",
  invalid_date: "startDate",
  invalid_timezone: "timezone",
  unknown_school: "schools",
  school_exists: "identifier",
};

function fieldOf(code, message) {
  if (FIELD_OF_CODE[code]) return FIELD_OF_CODE[code];
  if (code === "invalid_request" && typeof message === "string") {
    const match = /^([A-Za-z][A-Za-z0-9]*)(?:\[\d+\])?(?:\.[A-Za-z0-9]+)*[ :]/.exec(message);
    if (match) return match[1];
  }
  return null;
}

export class Api {
  constructor(baseUrl, tokenSource, onUnauthorized) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.tokenSource = tokenSource;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, { body, query } = {}) {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const headers = { Accept: "application/json" };
    const token = this.tokenSource();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw new ApiError(0, "network_error", `The API at ${this.baseUrl} did not answer. Check your connection and try again.`);
    }
    const text = await response.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (response.ok) return data;
    const shaped = data && typeof data.error === "object" && data.error !== null ? data.error : null;
    const { code, message, ...extra } = shaped || {};
    const error = new ApiError(response.status,
      code || (response.status === 401 ? "unauthorized" : `http_${response.status}`),
      message || (data && data.message) || `The API answered ${response.status}.`, extra);
    if (response.status === 401 && this.onUnauthorized) this.onUnauthorized(error);
    throw error;
  }

  get(path, query) { return this.request("GET", path, { query }); }
  post(path, body) { return this.request("POST", path, { body }); }
  put(path, body) { return this.request("PUT", path, { body }); }
  delete(path) { return this.request("DELETE", path); }

  district(id) { return `/districts/${encodeURIComponent(id)}`; }
}
