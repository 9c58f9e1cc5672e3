// proto/ against the facts in reference/ttrpc.md and reference/shim-v2.md: field numbers and types, and the worked
// byte examples, which were checked live against containerd-shim-runc-v2.
import * as protobuf from 'protobufjs';
import { decodeRequest, encodeFrame, encodeRequest, loadService, messageCodec, MessageType } from '../../packages/ttrpc/src';
import { loadProtos } from './protos';

const root = loadProtos();
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const codec = (name: string) => messageCodec<any>(root.lookupType(name));

// "Message: field=number:type …" exactly as the reference tables give them (type omitted = string).
const FIELDS: Record<string, string> = {
  'ttrpc.Request': 'service=1 method=2 payload=3:bytes timeout_nano=4:int64 metadata=5:KeyValue[]',
  'ttrpc.Response': 'status=1:Status payload=2:bytes',
  'ttrpc.KeyValue': 'key=1 value=2',
  'ttrpc.StringList': 'list=1:string[]',
  'google.rpc.Status': 'code=1:int32 message=2 details=3:Any[]',
  'google.protobuf.Any': 'type_url=1 value=2:bytes',
  'google.protobuf.Timestamp': 'seconds=1:int64 nanos=2:int32',
  'containerd.task.v2.CreateTaskRequest':
    'id=1 bundle=2 rootfs=3:Mount[] terminal=4:bool stdin=5 stdout=6 stderr=7 checkpoint=8 parent_checkpoint=9 options=10:Any',
  'containerd.task.v2.CreateTaskResponse': 'pid=1:uint32',
  'containerd.task.v2.StartRequest': 'id=1 exec_id=2',
  'containerd.task.v2.StartResponse': 'pid=1:uint32',
  'containerd.task.v2.DeleteRequest': 'id=1 exec_id=2',
  'containerd.task.v2.DeleteResponse': 'pid=1:uint32 exit_status=2:uint32 exited_at=3:Timestamp',
  'containerd.task.v2.ExecProcessRequest': 'id=1 exec_id=2 terminal=3:bool stdin=4 stdout=5 stderr=6 spec=7:Any',
  'containerd.task.v2.ExecProcessResponse': '',
  'containerd.task.v2.ResizePtyRequest': 'id=1 exec_id=2 width=3:uint32 height=4:uint32',
  'containerd.task.v2.StateRequest': 'id=1 exec_id=2',
  'containerd.task.v2.StateResponse':
    'id=1 bundle=2 pid=3:uint32 status=4:Status stdin=5 stdout=6 stderr=7 terminal=8:bool exit_status=9:uint32 exited_at=10:Timestamp exec_id=11',
  'containerd.task.v2.KillRequest': 'id=1 exec_id=2 signal=3:uint32 all=4:bool',
  'containerd.task.v2.CloseIORequest': 'id=1 exec_id=2 stdin=3:bool',
  'containerd.task.v2.PidsRequest': 'id=1',
  'containerd.task.v2.PidsResponse': 'processes=1:ProcessInfo[]',
  'containerd.task.v2.CheckpointTaskRequest': 'id=1 path=2 options=3:Any',
  'containerd.task.v2.UpdateTaskRequest': 'id=1 resources=2:Any annotations=3:map',
  'containerd.task.v2.WaitRequest': 'id=1 exec_id=2',
  'containerd.task.v2.WaitResponse': 'exit_status=1:uint32 exited_at=2:Timestamp',
  'containerd.task.v2.StatsRequest': 'id=1',
  'containerd.task.v2.StatsResponse': 'stats=1:Any',
  'containerd.task.v2.ConnectRequest': 'id=1',
  'containerd.task.v2.ConnectResponse': 'shim_pid=1:uint32 task_pid=2:uint32 version=3',
  'containerd.task.v2.ShutdownRequest': 'id=1 now=2:bool',
  'containerd.task.v2.PauseRequest': 'id=1',
  'containerd.task.v2.ResumeRequest': 'id=1',
  'containerd.types.Mount': 'type=1 source=2 target=3 options=4:string[]',
  'containerd.types.Metric': 'timestamp=1:Timestamp id=2 data=3:Any',
  'containerd.v1.types.ProcessInfo': 'pid=1:uint32 info=2:Any',
  'containerd.v1.types.Process':
    'container_id=1 id=2 pid=3:uint32 status=4:Status stdin=5 stdout=6 stderr=7 terminal=8:bool exit_status=9:uint32 exited_at=10:Timestamp',
  'containerd.runc.v1.Options':
    'no_pivot_root=1:bool no_new_keyring=2:bool shim_cgroup=3 io_uid=4:uint32 io_gid=5:uint32 binary_name=6 root=7 criu_path=8 systemd_cgroup=9:bool criu_image_path=10 criu_work_path=11 task_api_address=12 task_api_version=13:uint32',
  'containerd.runc.v1.CheckpointOptions':
    'exit=1:bool open_tcp=2:bool external_unix_sockets=3:bool terminal=4:bool file_locks=5:bool empty_namespaces=6:string[] cgroups_mode=7 image_path=8 work_path=9',
  'containerd.runc.v1.ProcessDetails': 'exec_id=1',
  'runtimeoptions.v1.Options': 'type_url=1 config_path=2 config_body=3:bytes',
  'containerd.services.events.ttrpc.v1.ForwardRequest': 'envelope=1:Envelope',
  'containerd.services.events.ttrpc.v1.Envelope': 'timestamp=1:Timestamp namespace=2 topic=3 event=4:Any',
  'containerd.events.TaskCreate': 'container_id=1 bundle=2 rootfs=3:Mount[] io=4:TaskIO checkpoint=5 pid=6:uint32',
  'containerd.events.TaskStart': 'container_id=1 pid=2:uint32',
  'containerd.events.TaskExit': 'container_id=1 id=2 pid=3:uint32 exit_status=4:uint32 exited_at=5:Timestamp',
  'containerd.events.TaskDelete': 'container_id=1 pid=2:uint32 exit_status=3:uint32 exited_at=4:Timestamp id=5',
  'containerd.events.TaskExecAdded': 'container_id=1 exec_id=2',
  'containerd.events.TaskExecStarted': 'container_id=1 exec_id=2 pid=3:uint32',
  'containerd.events.TaskOOM': 'container_id=1',
  'containerd.events.TaskPaused': 'container_id=1',
  'containerd.events.TaskResumed': 'container_id=1',
  'containerd.events.TaskCheckpointed': 'container_id=1 checkpoint=2',
  'containerd.events.TaskIO': 'stdin=1 stdout=2 stderr=3 terminal=4:bool',
  'io.containerd.cgroups.v1.Metrics':
    'hugetlb=1:HugetlbStat[] pids=2:PidsStat cpu=3:CPUStat memory=4:MemoryStat blkio=5:BlkIOStat rdma=6:RdmaStat network=7:NetworkStat[] cgroup_stats=8:CgroupStats memory_oom_control=9:MemoryOomControl',
  'io.containerd.cgroups.v1.MemoryEntry': 'limit=1:uint64 usage=2:uint64 max=3:uint64 failcnt=4:uint64',
  'io.containerd.cgroups.v2.Metrics':
    'pids=1:PidsStat cpu=2:CPUStat memory=4:MemoryStat rdma=5:RdmaStat io=6:IOStat hugetlb=7:HugeTlbStat[] memory_events=8:MemoryEvents',
  'io.containerd.cgroups.v2.PidsStat': 'current=1:uint64 limit=2:uint64',
  'io.containerd.cgroups.v2.CPUStat':
    'usage_usec=1:uint64 user_usec=2:uint64 system_usec=3:uint64 nr_periods=4:uint64 nr_throttled=5:uint64 throttled_usec=6:uint64',
  'io.containerd.cgroups.v2.MemoryEvents': 'low=1:uint64 high=2:uint64 max=3:uint64 oom=4:uint64 oom_kill=5:uint64',
  'io.containerd.cgroups.v2.IOEntry': 'major=1:uint64 minor=2:uint64 rbytes=3:uint64 wbytes=4:uint64 rios=5:uint64 wios=6:uint64',
};

function describeFields(type: protobuf.Type): string {
  return type.fieldsArray
    .map((f) => {
      const t = f.map ? 'map' : f.type.split('.').pop() + (f.repeated ? '[]' : '');
      return t === 'string' ? `${f.name}=${f.id}` : `${f.name}=${f.id}:${t}`;
    })
    .join(' ');
}

describe('proto/ field numbers and types', () => {
  it.each(Object.entries(FIELDS))('%s', (name, fields) => {
    expect(describeFields(root.lookupType(name))).toBe(fields);
  });

  it('task Status enum values', () => {
    expect(root.lookupEnum('containerd.v1.types.Status').values).toEqual({
      UNKNOWN: 0,
      CREATED: 1,
      RUNNING: 2,
      STOPPED: 3,
      PAUSED: 4,
      PAUSING: 5,
    });
  });

  it('task API v2 and v3 have the same 17 unary methods with wire-identical messages', () => {
    const sig = (name: string) =>
      root.lookupService(name).methodsArray.map((m) => {
        m.resolve();
        expect(m.requestStream || m.responseStream).toBeFalsy();
        return `${m.name}(${describeFields(m.resolvedRequestType!)}) -> ${m.resolvedResponseType!.fullName.split('.').pop()}`;
      });
    const v2 = sig('containerd.task.v2.Task');
    expect(v2.map((s) => s.split('(')[0])).toEqual([
      'State', 'Create', 'Start', 'Delete', 'Pids', 'Pause', 'Resume', 'Checkpoint', 'Kill',
      'Exec', 'ResizePty', 'CloseIO', 'Update', 'Wait', 'Stats', 'Connect', 'Shutdown',
    ]);
    expect(sig('containerd.task.v3.Task')).toEqual(v2);
    expect(loadService(root, 'containerd.task.v3.Task').name).toBe('containerd.task.v3.Task');
  });
});

describe('worked examples from reference/ttrpc.md and shim-v2.md', () => {
  it('8.2 ConnectResponse{shim_pid:1234, task_pid:5678}', () => {
    const c = codec('containerd.task.v2.ConnectResponse');
    expect(Buffer.from(c.encode({ shim_pid: 1234, task_pid: 5678 }))).toEqual(hex('08d209 10ae2c'));
    expect(c.decode(hex('08d20910ae2c'))).toEqual({ shim_pid: 1234, task_pid: 5678, version: '' });
  });

  it('delete action stdout: DeleteResponse{4242, 137, 1700000000s}', () => {
    expect(codec('containerd.task.v2.DeleteResponse').decode(hex('089221 108901 1a06 0880e2cfaa06'))).toEqual({
      pid: 4242,
      exit_status: 137,
      exited_at: { seconds: 1700000000, nanos: 0 },
    });
  });

  it("Go's zero time (seconds -62135596800) round-trips", () => {
    const c = codec('containerd.task.v2.StateResponse');
    const st = c.decode(c.encode({ id: 'c1', status: 1, exited_at: { seconds: -62135596800, nanos: 0 } }));
    expect(st).toMatchObject({ id: 'c1', status: 1, exited_at: { seconds: -62135596800, nanos: 0 } });
  });

  it('8.6 the Events/Forward request of a TaskStart, byte for byte', () => {
    const event = codec('containerd.events.TaskStart').encode({ container_id: 'c1', pid: 4242 });
    const forward = codec('containerd.services.events.ttrpc.v1.ForwardRequest').encode({
      envelope: {
        timestamp: { seconds: 1700000000, nanos: 123456789 },
        namespace: 'k8s.io',
        topic: '/tasks/start',
        event: { type_url: 'containerd.events.TaskStart', value: event },
      },
    });
    const data = encodeRequest({
      service: 'containerd.services.events.ttrpc.v1.Events',
      method: 'Forward',
      payload: forward,
      timeout_nano: 5e9,
      metadata: [{ key: 'containerd-namespace-ttrpc', value: 'k8s.io' }],
    });
    expect(encodeFrame(1, MessageType.Request, 0, data)).toEqual(
      hex(`000000b0000000010100 0a2a636f6e7461696e6572642e73657276696365732e6576656e74732e74747270632e76312e4576656e7473
           1207466f7277617264 1a4d0a4b0a0b0880e2cfaa0610959aef3a 12066b38732e696f 1a0c2f7461736b732f7374617274
           22260a1b636f6e7461696e6572642e6576656e74732e5461736b5374617274 1207 0a026331 109221
           2080e497d012 2a240a1a636f6e7461696e6572642d6e616d6573706163652d7474727063 12066b38732e696f`),
    );
  });

  it("the package's built-in envelope agrees with proto/ttrpc/request.proto", () => {
    const viaProto = codec('ttrpc.Request').encode({
      service: 'a.B',
      method: 'C',
      payload: Buffer.from([1, 2, 3]),
      timeout_nano: 7e9,
      metadata: [{ key: 'k', value: 'v' }],
    });
    expect(decodeRequest(viaProto)).toEqual({
      service: 'a.B',
      method: 'C',
      payload: Buffer.from([1, 2, 3]),
      timeout_nano: 7e9,
      metadata: [expect.objectContaining({ key: 'k', value: 'v' })],
    });
  });

  it('cgroup v2 Metrics decodes the fields CRI reads', () => {
    const c = codec('io.containerd.cgroups.v2.Metrics');
    const m = c.decode(c.encode({ pids: { current: 3 }, memory: { usage: 5 << 20, inactive_file: 4096 }, memory_events: { oom_kill: 1 } }));
    expect(m).toMatchObject({ pids: { current: 3, limit: 0 }, memory: { usage: 5 << 20, inactive_file: 4096 }, memory_events: { oom_kill: 1 } });
  });
});
