// Interoperability: panva's openid-client (an independent, certified OIDC
// client) completes the device flow against a running `devauth serve`,
// validates our ID token's signature against our JWKS (non-repudiation
// checks), refreshes, revokes, and reads userinfo.
//
// Usage: node device_flow.mjs ISSUER
// Prints JSON lines on stdout: first {"user_code": ...} (the driving test
// approves it), then {"ok": true, ...} or {"ok": false, "error": ...}.
import * as client from 'openid-client';

const issuer = process.argv[2];
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

try {
  const config = await client.discovery(new URL(issuer), 'devauth-cli', undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  client.enableNonRepudiationChecks(config);

  const da = await client.initiateDeviceAuthorization(config, { scope: 'openid profile offline_access' });
  say({ user_code: da.user_code, interval: da.interval });

  const tokens = await client.pollDeviceAuthorizationGrant(config, da);
  const claims = tokens.claims();
  if (!claims || !claims.sub) throw new Error('no ID token claims');

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  if (!refreshed.refresh_token || refreshed.refresh_token === tokens.refresh_token) {
    throw new Error('the refresh token was not rotated');
  }
  const refreshedClaims = refreshed.claims();

  await client.tokenRevocation(config, refreshed.refresh_token);
  let revokedWorks = true;
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
  } catch (e) {
    revokedWorks = false;
    if (e.error !== 'invalid_grant') throw e;
  }
  if (revokedWorks) throw new Error('a revoked refresh token still worked');

  say({
    ok: true,
    sub: claims.sub,
    iss: claims.iss,
    aud: claims.aud,
    preferred_username: userinfo.preferred_username,
    refreshed_sub: refreshedClaims ? refreshedClaims.sub : null,
  });
} catch (e) {
  say({ ok: false, error: String(e && e.stack || e), code: e && e.code, body: e && e.error });
  process.exitCode = 1;
}
