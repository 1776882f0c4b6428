// An in-memory storage adapter for oidc-provider whose data outlives a
// Provider instance: server.mjs replaces the provider to rotate keys, and
// sessions, grants and codes must survive that. The process is one test's
// provider, so nothing here needs to scale or persist.

// newMemoryAdapter returns an adapter class (one instance per model, as
// oidc-provider wants) over one shared store.
export function newMemoryAdapter() {
  const entries = new Map(); // key -> { value, expiresAt }

  const get = (key) => {
    const e = entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt && e.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return e.value;
  };
  const set = (key, value, expiresIn) => {
    entries.set(key, { value, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : 0 });
  };
  // Tokens issued under a grant, so revoking the grant revokes them.
  const grantable = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

  return class MemoryAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      const key = this.key(id);
      if (this.model === 'Session') {
        set(`sessionUid:${payload.uid}`, id, expiresIn);
      }
      if (payload.userCode) {
        set(`userCode:${payload.userCode}`, id, expiresIn);
      }
      if (grantable.has(this.model) && payload.grantId) {
        const grantKey = `grant:${payload.grantId}`;
        const tokens = get(grantKey) ?? [];
        tokens.push(key);
        set(grantKey, tokens); // lives as long as its longest token might
      }
      set(key, payload, expiresIn);
    }

    async find(id) {
      return get(this.key(id));
    }

    async findByUid(uid) {
      const id = get(`sessionUid:${uid}`);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode) {
      const id = get(`userCode:${userCode}`);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id) {
      const value = get(this.key(id));
      if (value) value.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id) {
      entries.delete(this.key(id));
    }

    async revokeByGrantId(grantId) {
      for (const key of get(`grant:${grantId}`) ?? []) {
        entries.delete(key);
      }
      entries.delete(`grant:${grantId}`);
    }
  };
}
