// The reference for bench/load.sh: panva's oidc-provider (npm) with the device
// flow on and one public client, on 127.0.0.1:PORT, in-memory adapter (its
// fastest configuration). Usage: node bench/oidc-provider-ref.mjs PORT
import Provider from 'oidc-provider';

const port = Number(process.argv[2] ?? 3000);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: 'bench',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    redirect_uris: [],
  }],
  ttl: { DeviceCode: 600 },
  features: {
    deviceFlow: { enabled: true },
    devInteractions: { enabled: false },
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(port, '127.0.0.1', () => console.error(`oidc-provider listening on ${issuer}`));
