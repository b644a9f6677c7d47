// The network half of the API's backend: lodger's user networks in Docker's shapes, plus the built-in modes clients ask for.
import { formatNetworkInspect, listNetworks } from '../../network/userNetwork';
import { liveState, readContainer, readState, resolveContainer } from '../../storage/containers';
import type { StorePaths } from '../../storage/paths';
import type { Filters } from '../backend';
import { ApiError, badRequest, notFound } from '../httpError';

type Obj = Record<string, unknown>;

/** Docker's built-in networks: "bridge" is lodger's default network (each container's own), host and none its modes. */
const BUILTIN = ['bridge', 'host', 'none'];

function builtin(name: string): Obj {
  return {
    Name: name, Id: name, Created: '0001-01-01T00:00:00Z', Scope: 'local', Driver: name === 'bridge' ? 'bridge' : name === 'host' ? 'host' : 'null',
    EnableIPv6: false, IPAM: { Driver: 'default', Options: {}, Config: [] }, Internal: false, Attachable: false, Ingress: false,
    ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, Labels: {},
  };
}

export class NetworkEngine {
  constructor(readonly p: StorePaths) {}

  private doc(r: import('../../network/userNetwork').NetworkRecord): Obj {
    return { ...formatNetworkInspect(r), Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false };
  }

  list(filters: Filters): Obj[] {
    const docs = [...BUILTIN.map(builtin), ...listNetworks(this.p.root).map((r) => this.doc(r))];
    return docs.filter((d) => [...filters].every(([k, vs]) => vs.length === 0 || vs.some((v) => {
      switch (k) {
        case 'name': return String(d.Name).includes(v);
        case 'id': return String(d.Id).startsWith(v);
        case 'driver': return d.Driver === v;
        case 'label': { const l = d.Labels as Record<string, string>; const i = v.indexOf('='); return i < 0 ? Object.hasOwn(l, v) : l[v.slice(0, i)] === v.slice(i + 1); }
        case 'type': return v === 'custom' ? !BUILTIN.includes(String(d.Name)) : BUILTIN.includes(String(d.Name));
        case 'scope': return v === 'local';
        default: throw badRequest(`invalid filter '${k}'`);
      }
    })));
  }

  inspect(id: string): Obj {
    if (BUILTIN.includes(id)) return builtin(id);
    const all = listNetworks(this.p.root);
    const r = all.find((n) => n.name === id) ?? all.find((n) => n.id === id) ?? (id.length >= 3 ? all.find((n) => n.id.startsWith(id)) : undefined);
    if (!r) throw notFound(`network ${id} not found`);
    return this.doc(r);
  }

  async create(body: Obj): Promise<{ Id: string; Warning: string }> {
    const name = body.Name;
    if (typeof name !== 'string' || !name) throw badRequest('network name must be given (Name)');
    if (body.Driver !== undefined && body.Driver !== '' && body.Driver !== 'bridge') throw badRequest(`network driver ${String(body.Driver)} is not supported: lodger's networks are bridges`);
    const ipam = (body.IPAM && typeof body.IPAM === 'object' ? body.IPAM : {}) as { Config?: Array<{ Subnet?: string; Gateway?: string }> };
    const c = ipam.Config?.[0] ?? {};
    const labels = (body.Labels && typeof body.Labels === 'object' ? body.Labels : {}) as Record<string, string>;
    if (BUILTIN.includes(name)) throw new ApiError(409, `network with name ${name} already exists`);
    const { createNetwork } = await import('../../network/userNetwork');
    const rec = await createNetwork(this.p.root, name, { subnet: c.Subnet, gateway: c.Gateway, internal: body.Internal === true, labels });
    return { Id: rec.id, Warning: '' };
  }

  /**
   * Connects a container that is not running to NETWORK (with ALIASES on its DNS). A lodger container
   * has one network, chosen at its start: Compose's disconnect-then-connect after create works, a live
   * change does not (yet).
   */
  async connect(containerRef: string, network: string, aliases: string[]): Promise<void> {
    const { id, rec, running } = this.container(containerRef);
    const name = BUILTIN.includes(network) ? network : String(this.inspect(network).Name);
    const target = name === 'bridge' ? 'default' : name;
    const cur = rec.HostConfig.NetworkMode;
    if (cur === target && !aliases.length) return;
    if (running) throw new ApiError(501, `connect ${rec.Name} to ${name}: lodger cannot change the network of a running container — stop it first`);
    if (cur !== target && cur !== 'none' && cur !== 'default') throw new ApiError(501, `connect ${rec.Name} to ${name}: it is on ${cur} already, and a lodger container has one network — disconnect it first`);
    const { updateContainerRecord } = await import('../../storage/containers');
    await updateContainerRecord(this.p, id, (r) => { r.HostConfig.NetworkMode = target; r.NetworkAliases = aliases; });
  }

  async disconnect(containerRef: string, network: string): Promise<void> {
    const { id, rec, running } = this.container(containerRef);
    const name = BUILTIN.includes(network) ? network : String(this.inspect(network).Name);
    const cur = rec.HostConfig.NetworkMode;
    if (cur !== (name === 'bridge' ? 'default' : name)) throw new ApiError(400, `container ${rec.Name} is not connected to network ${name}`);
    if (running) throw new ApiError(501, `disconnect ${rec.Name} from ${name}: lodger cannot change the network of a running container — stop it first`);
    const { updateContainerRecord } = await import('../../storage/containers');
    await updateContainerRecord(this.p, id, (r) => { r.HostConfig.NetworkMode = 'none'; r.NetworkAliases = []; });
  }

  private container(ref: string) {
    let id: string;
    try { id = resolveContainer(this.p, ref); } catch { throw notFound(`No such container: ${ref}`); }
    const rec = readContainer(this.p, id);
    if (!rec) throw notFound(`No such container: ${ref}`);
    return { id, rec, running: liveState(readState(this.p, id)).Running };
  }

  async remove(id: string): Promise<void> {
    if (BUILTIN.includes(id)) throw new ApiError(403, `${id} is a pre-defined network and cannot be removed`);
    const { removeNetworkRecord } = await import('../../network/userNetwork');
    const name = String(this.inspect(id).Name);
    await removeNetworkRecord(this.p.root, name);
  }
}
