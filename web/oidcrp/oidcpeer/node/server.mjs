// A real OpenID provider (oidc-provider) for the relying-party tests.
//
//   node server.mjs CONFIG.json
//
// It listens on 127.0.0.1 (port from the config, 0 for any) and prints one
// JSON line {"issuer":"http://127.0.0.1:PORT"} on stdout once it answers.
// Logins need no browser: the interaction route finishes each login with
// the "next login" a test set through the admin API, and grants consent
// for whatever was asked. The admin API lives under /_test/ and requires
// "Authorization: Bearer <adminToken>" from the config:
//
//   POST /_test/next-login  {"sub","acr","amr":[],"authTimeAgoSeconds"}
//   POST /_test/accounts    {"sub","claims":{...}}   replaces the claims
//   POST /_test/rotate-keys {"keepOld":bool}         signs with a new key
//
// The OIDC endpoints are oidc-provider's own; nothing of the protocol is
// reimplemented here.
import { generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

import { newMemoryAdapter } from './adapter.mjs';

const LOGOUT_CONFIRM = '/_peer/logout-confirm';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
if (!cfg.adminToken) {
  throw new Error('config: adminToken is required');
}

// Accounts by sub, in the order given: the first one logs in by default.
const accounts = new Map((cfg.accounts ?? []).map((a) => [a.sub, { ...a.claims }]));
const defaultSub = cfg.accounts?.[0]?.sub;

// Storage and cookie keys outlive a key rotation, so the browser's
// session, grants and codes survive it.
const Adapter = newMemoryAdapter();
const cookieKeys = [randomBytes(32).toString('base64url')];

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}
let signingKeys = [newSigningKey()];

let nextLogin = null;

function takeNextLogin() {
  const n = nextLogin ?? {};
  nextLogin = null;
  return n;
}

function providerConfig() {
  const openidClaims = ['sub'];
  if (!cfg.amrOnlyOnRequest) {
    openidClaims.push('amr'); // the openid scope is always granted: amr in every ID token
  }
  return {
    adapter: Adapter,
    clients: (cfg.clients ?? []).map((c) => ({
      client_id: c.id,
      client_secret: c.secret,
      redirect_uris: c.redirectUris,
      post_logout_redirect_uris: c.postLogoutRedirectUris ?? [],
      token_endpoint_auth_method: c.tokenEndpointAuthMethod || 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
    async findAccount(ctx, sub) {
      if (!accounts.has(sub)) {
        return undefined;
      }
      return {
        accountId: sub,
        // Read at every token and userinfo request, so /_test/accounts
        // changes what the next token says.
        async claims() {
          return { ...accounts.get(sub), sub };
        },
      };
    },
    claims: {
      openid: openidClaims,
      profile: ['name', 'preferred_username', 'given_name', 'family_name'],
      email: ['email', 'email_verified'],
      groups: ['groups'],
      // Standalone claims, available through the claims parameter.
      acr: null,
      amr: null,
      auth_time: null,
      sid: null,
    },
    scopes: ['openid', 'profile', 'email', 'groups'],
    conformIdTokenClaims: Boolean(cfg.conformIdTokenClaims),
    acrValues: cfg.acrValues ?? [],
    jwks: { keys: signingKeys },
    cookies: { keys: cookieKeys },
    pkce: { methods: ['S256'], required: () => true },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // The confirmation page would need a click; send the browser on
        // to a route that confirms for it.
        async logoutSource(ctx) {
          const secret = ctx.oidc.session.state?.secret;
          ctx.status = 303;
          ctx.redirect(`${LOGOUT_CONFIRM}?xsrf=${encodeURIComponent(secret)}`);
        },
      },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

let issuer;
let provider;
let handle;

// startProvider (re)creates the provider from the current keys; issuer,
// port, sessions and accounts stay.
function startProvider() {
  provider = new Provider(issuer, providerConfig());
  provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error:', err));
  handle = provider.callback();
}

function sendJSON(res, status, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify(body));
}

async function readJSON(req) {
  const chunks = [];
  for await (const c of req) {
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

function authorized(req) {
  const got = Buffer.from(req.headers.authorization ?? '');
  const want = Buffer.from(`Bearer ${cfg.adminToken}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

async function admin(req, res, path) {
  if (!authorized(req)) {
    sendJSON(res, 401, { error: 'admin token required' });
    return;
  }
  if (req.method !== 'POST') {
    sendJSON(res, 405, { error: 'POST only' });
    return;
  }
  const body = await readJSON(req);
  switch (path) {
    case '/_test/next-login':
      if (body.sub !== undefined && !accounts.has(body.sub)) {
        sendJSON(res, 400, { error: `unknown account ${body.sub}` });
        return;
      }
      nextLogin = body;
      sendJSON(res, 200, {});
      return;
    case '/_test/accounts':
      if (!body.sub) {
        sendJSON(res, 400, { error: 'sub is required' });
        return;
      }
      accounts.set(body.sub, { ...body.claims });
      sendJSON(res, 200, {});
      return;
    case '/_test/rotate-keys': {
      const fresh = newSigningKey();
      // The first key signs; an old one kept after it still verifies.
      signingKeys = body.keepOld ? [fresh, ...signingKeys] : [fresh];
      startProvider();
      sendJSON(res, 200, { kid: fresh.kid });
      return;
    }
    default:
      sendJSON(res, 404, { error: 'no such admin route' });
  }
}

// interaction finishes a login or a consent prompt at once, as a person
// who always says yes would.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  if (prompt.name === 'login') {
    const n = takeNextLogin();
    const login = {
      accountId: n.sub ?? defaultSub,
      ts: Math.floor(Date.now() / 1000) - (n.authTimeAgoSeconds ?? 0),
      remember: true,
    };
    if (n.acr) login.acr = n.acr;
    if (n.amr?.length) login.amr = n.amr;
    // An essential acr this login does not reach would only bring the
    // same prompt back: refuse, as a provider does when the person cannot
    // do the required factor.
    const wanted = prompt.details.acr;
    if (wanted?.essential && !(wanted.values ?? [wanted.value]).includes(login.acr)) {
      await provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'requested ACR could not be obtained',
      }, { mergeWithLastSubmission: false });
      return;
    }
    await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = prompt.details;
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  sendJSON(res, 500, { error: `unexpected prompt ${prompt.name}` });
}

// confirmLogout posts the logout form for the browser ("Yes, sign me
// out"), with its cookies, and relays the provider's answer.
async function confirmLogout(req, res, url) {
  const answer = await fetch(`${issuer}/session/end/confirm`, {
    method: 'POST',
    redirect: 'manual',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Cookie: req.headers.cookie ?? '',
    },
    body: new URLSearchParams({ xsrf: url.searchParams.get('xsrf') ?? '', logout: 'yes' }).toString(),
  });
  res.statusCode = answer.status;
  for (const name of ['location', 'content-type', 'cache-control']) {
    const v = answer.headers.get(name);
    if (v) res.setHeader(name, v);
  }
  const cookies = answer.headers.getSetCookie();
  if (cookies.length) res.setHeader('Set-Cookie', cookies);
  res.end(Buffer.from(await answer.arrayBuffer()));
}

const server = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (url.pathname.startsWith('/_test/')) {
      await admin(req, res, url.pathname);
    } else if (url.pathname.startsWith('/interaction/') && req.method === 'GET') {
      await interaction(req, res);
    } else if (url.pathname === LOGOUT_CONFIRM && req.method === 'GET') {
      await confirmLogout(req, res, url);
    } else {
      handle(req, res);
    }
  } catch (err) {
    console.error('oidcpeer:', err);
    if (!res.headersSent) {
      sendJSON(res, 500, { error: String(err?.message ?? err) });
    } else {
      res.end();
    }
  }
});

server.listen(Number(cfg.port ?? 0), '127.0.0.1', () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  startProvider();
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

// The Go side closes our stdin when the test ends; exit then, so no
// provider outlives its test even if the kill is missed.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
