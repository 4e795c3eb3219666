// Who is signed in. Deployed: the Cognito hosted UI, authorization code with PKCE; the ID
// token is the API's bearer. Locally: the local stack's sign-in, which mints the same tokens
// `rostersync local token` prints. Either way the session lives in sessionStorage (this tab).

const SESSION_KEY = "rostersync.session";
const PKCE_KEY = "rostersync.pkce";
export const CONSOLE_ROLES = ["district_admin", "platform_admin"];

export function decodeClaims(token) {
  const part = String(token).split(".")[1];
  if (!part) throw new Error("not a JWT");
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const json = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
  return JSON.parse(json);
}

export function currentSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (!session || !session.idToken) return null;
    const claims = decodeClaims(session.idToken);
    if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now() + 30_000) {
      sessionStorage.removeItem(SESSION_KEY);
      return null;
    }
    return { idToken: session.idToken, claims, role: claims["custom:role"] || null,
      districtId: claims["custom:district_id"] || null, name: claims.email || claims["cognito:username"] || claims.sub };
  } catch {
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }
}

function saveSession(idToken) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify({ idToken }));
}

export function mayUseConsole(session) {
  return Boolean(session && CONSOLE_ROLES.includes(session.role) && (session.role === "platform_admin" || session.districtId));
}

// ---------------------------------------------------------------- local sign-in
export async function localSignIn(config, role, districtId) {
  const response = await fetch(config.local.signInPath, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ role, districtId: districtId || null }),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(data?.error?.message || `Sign-in failed (${response.status}).`);
    error.code = data?.error?.code || "sign_in_failed";
    error.status = response.status;
    throw error;
  }
  saveSession(data.idToken);
  return currentSession();
}

/** A platform-admin token for the local sign-in page's district list (local stack only). */
export async function localDistricts(config) {
  const response = await fetch(config.local.signInPath, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ role: "platform_admin" }),
  });
  const { idToken } = await response.json();
  const list = await fetch(`${config.apiUrl}/districts?limit=100`, { headers: { Authorization: `Bearer ${idToken}` } });
  if (!list.ok) return [];
  return (await list.json()).districts;
}

// ---------------------------------------------------------------- Cognito hosted UI (code + PKCE)
function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(bytes = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The hosted UI's authorize URL for a new sign-in; the verifier and state are kept for the callback. */
export async function authorizeUrl(config) {
  const verifier = randomString(48);
  const state = randomString(16);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state }));
  const { domain, clientId, redirectUri, scopes } = config.cognito;
  const url = new URL(`${domain}/oauth2/authorize`);
  url.search = new URLSearchParams({
    response_type: "code", client_id: clientId, redirect_uri: redirectUri,
    scope: (scopes || ["openid"]).join(" "), state, code_challenge: challenge, code_challenge_method: "S256",
  }).toString();
  return url.toString();
}

export async function startHostedSignIn(config) {
  window.location.assign(await authorizeUrl(config));
}

/**
 * Back from the hosted UI with ?code=&state= (or ?error=): exchange the code for tokens.
 * Returns null when this is not a callback; throws with a message for people on failure.
 */
export async function completeHostedSignIn(config) {
  const params = new URLSearchParams(window.location.search);
  if (!params.has("code") && !params.has("error")) return null;
  const pkce = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
  sessionStorage.removeItem(PKCE_KEY);
  window.history.replaceState(null, "", new URL(config.cognito.redirectUri).pathname);
  if (params.has("error")) throw new Error(`The sign-in page answered: ${params.get("error_description") || params.get("error")}.`);
  if (!pkce || pkce.state !== params.get("state")) throw new Error("This sign-in did not start here (its state does not match). Sign in again.");
  const { domain, clientId, redirectUri } = config.cognito;
  const response = await fetch(`${domain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", client_id: clientId, code: params.get("code"),
      redirect_uri: redirectUri, code_verifier: pkce.verifier }).toString(),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok || !data?.id_token) throw new Error(`Signing in failed (${data?.error || response.status}). Sign in again.`);
  saveSession(data.id_token);
  return currentSession();
}

export function signOut(config) {
  sessionStorage.removeItem(SESSION_KEY);
  if (config.mode === "cognito") {
    const { domain, clientId, redirectUri } = config.cognito;
    const url = new URL(`${domain}/logout`);
    url.search = new URLSearchParams({ client_id: clientId, logout_uri: redirectUri }).toString();
    window.location.assign(url.toString());
  } else {
    window.location.hash = "#/";
    window.location.reload();
  }
}
