import { beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../app/src/logger.ts';
import { requestMetrics } from '../../app/src/metrics/request-metrics.ts';
import { BACKUP_FAILED_MESSAGE } from '../../app/src/store/backup-messages.ts';
import type { RequestRecord } from '../../app/src/types.ts';
import { joined, onlyResource, resourceNamed, synth } from './helpers.ts';
import type { Synthesized } from './helpers.ts';

// Event patterns are free-form JSON.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface Widget {
  properties: { title: string; metrics?: unknown[][]; region: string };
}

/** Dashboard body with references shown as <import:…> so metric arrays can be read. */
function dashboard(s: Synthesized): Widget[] {
  const body = onlyResource(s.monitoring, 'AWS::CloudWatch::Dashboard').resource.Properties!
    .DashboardBody;
  return (JSON.parse(joined(body)) as { widgets: Widget[] }).widgets;
}

function widget(s: Synthesized, title: string): Widget {
  const w = dashboard(s).find((x) => x.properties.title === title);
  if (!w) throw new Error(`no widget "${title}"`);
  return w;
}

/** A dashboard metric row: [namespace, name, dim1, val1, …, {options}] → parts. */
function rows(w: Widget) {
  return (w.properties.metrics ?? []).map((row) => {
    const options = (typeof row.at(-1) === 'object' ? row.at(-1) : {}) as Record<string, unknown>;
    const parts = row.filter((x) => typeof x === 'string') as string[];
    return { parts, options };
  });
}

/** The instance id, a parameter of the Monitoring stack resolved from SSM at each deploy. */
const INSTANCE = /^<InstanceId>$/;

describe('monitoring', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ context: { alarmEmail: 'ops@example.com' } });
  });

  describe('dashboard', () => {
    it('shows host CPU, memory and root disk with exactly the dimensions the agent publishes', () => {
      const [cpu] = rows(widget(s, 'Host CPU (%)'));
      expect(cpu!.parts.slice(0, 3)).toEqual(['AWS/EC2', 'CPUUtilization', 'InstanceId']);
      expect(cpu!.parts[3]).toMatch(INSTANCE);

      const [mem] = rows(widget(s, 'Host memory used (%)'));
      expect(mem!.parts.slice(0, 3)).toEqual(['CWAgent', 'mem_used_percent', 'InstanceId']);
      expect(mem!.parts).toHaveLength(4);

      const disks = rows(widget(s, 'Host disks used (%)'));
      expect(
        disks.map((disk) => {
          expect(disk.parts.slice(0, 3)).toEqual(['CWAgent', 'disk_used_percent', 'InstanceId']);
          const pairs = disk.parts.slice(4);
          return Object.fromEntries(
            pairs.flatMap((_, i) => (i % 2 ? [] : [[pairs[i], pairs[i + 1]]])),
          );
        }),
      ).toEqual([
        { path: '/', fstype: 'xfs' },
        { path: '/var/lib/llm-relay', fstype: 'xfs' },
      ]);
    });

    it('shows relay requests, errors by status class, latency, TTFB and overhead percentiles', () => {
      const requests = rows(widget(s, 'Relay requests and errors'));
      expect(requests.map((r) => r.parts)).toEqual([
        ['LlmRelay', 'Requests', 'Service', 'llm-relay'],
        ['LlmRelay', 'Errors4xx', 'Service', 'llm-relay'],
        ['LlmRelay', 'Errors5xx', 'Service', 'llm-relay'],
      ]);
      for (const [title, metric] of [
        ['Latency (ms)', 'Latency'],
        ['Time to first byte (ms)', 'TimeToFirstByte'],
        ['Relay overhead (ms, without upstream waits)', 'RelayOverhead'],
      ] as const) {
        const r = rows(widget(s, title));
        expect(r.map((x) => x.parts[1])).toEqual([metric, metric]);
        expect(r.map((x) => x.options.stat)).toEqual(['p50', 'p99']);
      }
    });

    it('shows tokens and cost by model through SEARCH over the Model dimension', () => {
      const tokens = JSON.stringify(widget(s, 'Tokens by model').properties.metrics);
      expect(tokens).toContain('{LlmRelay,Service,Model} MetricName=\\"PromptTokens\\"');
      expect(tokens).toContain('{LlmRelay,Service,Model} MetricName=\\"CompletionTokens\\"');
      expect(JSON.stringify(widget(s, 'Cost by model (USD)').properties.metrics)).toContain(
        'MetricName=\\"CostUSD\\"',
      );
    });

    it('shows CloudFront requests and 4xx/5xx rates from us-east-1 (Region=Global)', () => {
      const dist = /^<DistributionId>$/;
      const requests = rows(widget(s, 'CloudFront requests'));
      const rates = rows(widget(s, 'CloudFront error rates (%)'));
      for (const r of [...requests, ...rates]) {
        expect(r.parts[0]).toBe('AWS/CloudFront');
        expect(r.parts[3]).toMatch(dist);
        expect(r.parts.slice(4)).toEqual(['Region', 'Global']);
        expect(r.options.region).toBe('us-east-1');
      }
      expect(rates.map((r) => r.parts[1])).toEqual(['4xxErrorRate', '5xxErrorRate']);
    });
  });

  describe('metrics exist as published', () => {
    /** Dimension names → values of a dashboard row. */
    const dims = (parts: string[]) =>
      Object.fromEntries(
        parts.slice(2).flatMap((_, i, rest) => (i % 2 ? [] : [[rest[i], rest[i + 1]]])),
      ) as Record<string, string>;
    const allRows = () => dashboard(s).flatMap((w) => rows(w));
    const alarmDims = (id: string) => {
      const found = Object.entries(s.monitoring.findResources('AWS::CloudWatch::Alarm')).find(
        ([k]) => k.includes(id),
      )!;
      return Object.fromEntries(
        (found[1].Properties.Dimensions as { Name: string; Value: unknown }[]).map((d) => [
          d.Name,
          joined(d.Value),
        ]),
      );
    };

    it('host memory and disk use exactly the dimension names the agent config makes it publish', () => {
      // What the agent publishes, read from its synthesized config: append_dimensions replace the
      // host dimension; disk adds path and fstype, plus device unless drop_device is set.
      const param = resourceNamed(s.relay, 'AWS::SSM::Parameter', 'HostAgentConfig').resource
        .Properties!;
      const agent = JSON.parse(joined(param.Value)) as {
        metrics: {
          append_dimensions: Record<string, string>;
          metrics_collected: { disk: { resources: string[]; drop_device?: boolean } };
        };
      };
      const appended = Object.keys(agent.metrics.append_dimensions);
      const disk = agent.metrics.metrics_collected.disk;
      // The root disk and the data volume's mount (the database).
      expect(disk.resources).toEqual(['/', '/var/lib/llm-relay']);
      const published = {
        mem_used_percent: [...appended].sort(),
        disk_used_percent: [
          ...appended,
          'path',
          'fstype',
          ...(disk.drop_device ? [] : ['device']),
        ].sort(),
      };

      for (const [metric, names] of Object.entries(published)) {
        const used = allRows().filter((r) => r.parts[0] === 'CWAgent' && r.parts[1] === metric);
        expect(used.length, metric).toBeGreaterThan(0);
        for (const r of used) expect(Object.keys(dims(r.parts)).sort(), metric).toEqual(names);
      }
      expect(Object.keys(alarmDims('HostMemoryUsed')).sort()).toEqual(published.mem_used_percent);
      expect(Object.keys(alarmDims('HostDiskUsed')).sort()).toEqual(published.disk_used_percent);
      // Values: the root mount and the file system AL2023 formats it with.
      expect(alarmDims('HostDiskUsed')).toMatchObject({ path: disk.resources[0], fstype: 'xfs' });
      expect(alarmDims('HostDiskUsed').InstanceId).toMatch(INSTANCE);
      expect(Object.keys(alarmDims('HostDataDiskUsed')).sort()).toEqual(
        published.disk_used_percent,
      );
      expect(alarmDims('HostDataDiskUsed')).toMatchObject({
        path: disk.resources[1],
        fstype: 'xfs',
      });
    });

    it('relay metrics, dimensions and Service value are exactly what the relay emits (app/src/metrics/emf.ts)', () => {
      const record = {
        startedAt: 0,
        model: 'gpt-4o',
        promptTokens: 1,
        completionTokens: 1,
        costMicros: 1,
        ttfbMs: 1,
        relayMs: 0.5,
      } as RequestRecord;
      let emf = '';
      const metrics = requestMetrics((doc) => (emf = doc));
      metrics.add(record, 200, 10, 0);
      metrics.stop();
      const line = JSON.parse(`{${emf}}`) as {
        _aws: {
          CloudWatchMetrics: {
            Namespace: string;
            Dimensions: string[][];
            Metrics: { Name: string }[];
          }[];
        };
        Service: string;
      };
      const [directive] = line._aws.CloudWatchMetrics;
      const emitted = new Set(directive!.Metrics.map((m) => m.Name));
      const dimensionSets = directive!.Dimensions.map((set) => [...set].sort().join(','));

      const relayRows = allRows().filter((r) => r.parts[0] === directive!.Namespace);
      const shown = new Set(relayRows.map((r) => r.parts[1]));
      for (const r of relayRows) {
        expect(dimensionSets).toContain(Object.keys(dims(r.parts)).sort().join(','));
        expect(dims(r.parts).Service).toBe(line.Service);
      }
      // Per-model searches: the {Namespace,Service,Model} schema and an emitted metric name.
      const searches = dashboard(s)
        .flatMap((w) => w.properties.metrics ?? [])
        .flatMap((row) => row.filter((x) => typeof x === 'object'))
        .map((o) => (o as { expression?: string }).expression)
        .filter((e): e is string => !!e?.startsWith('SEARCH('));
      expect(searches.length).toBeGreaterThan(0);
      for (const e of searches) {
        const m = /^SEARCH\('\{([^}]+)\} MetricName="(\w+)" Service="([^"]+)"'/.exec(e);
        expect(m, e).not.toBeNull();
        const [namespace, ...schema] = m![1]!.split(',');
        expect(namespace).toBe(directive!.Namespace);
        expect(dimensionSets).toContain(schema.sort().join(','));
        expect(m![3]).toBe(line.Service);
        shown.add(m![2]!);
      }
      // Every metric the relay emits is on the dashboard, and nothing else from its namespace.
      expect([...shown].sort()).toEqual([...emitted].sort());
    });

    it('labels each per-model series with its model', () => {
      const labels = dashboard(s)
        .flatMap((w) => w.properties.metrics ?? [])
        .flatMap((row) => row.filter((x) => typeof x === 'object'))
        .filter((o) => String((o as { expression?: string }).expression).startsWith('SEARCH('))
        .map((o) => (o as { label?: string }).label);
      expect(labels.length).toBeGreaterThan(0);
      for (const label of labels) expect(label).toMatch(/\$\{PROP\('Dim\.Model'\)\}$/);
    });
  });

  describe('alarms', () => {
    const alarm = (id: string) => {
      const found = Object.entries(s.monitoring.findResources('AWS::CloudWatch::Alarm')).find(
        ([k]) => k.includes(id),
      );
      if (!found) throw new Error(`no alarm ${id}`);
      return found[1].Properties as Record<string, unknown>;
    };
    /** The watched metric, whether the alarm uses the plain or the Metrics (labelled) form. */
    const metric = (id: string) => {
      const a = alarm(id) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const stat = a.Metrics?.[0]?.MetricStat;
      return stat
        ? { ...stat.Metric, Period: stat.Period, Stat: stat.Stat }
        : {
            Namespace: a.Namespace,
            MetricName: a.MetricName,
            Dimensions: a.Dimensions,
            Period: a.Period,
          };
    };
    const topic = () => ({ Ref: onlyResource(s.monitoring, 'AWS::SNS::Topic').logicalId });

    it('all notify the SNS topic, which has the email subscription from context', () => {
      const alarms = Object.values(s.monitoring.findResources('AWS::CloudWatch::Alarm'));
      expect(alarms.length).toBe(9);
      for (const a of alarms) expect(a.Properties.AlarmActions).toContainEqual(topic());
      s.monitoring.hasResourceProperties('AWS::SNS::Subscription', {
        Protocol: 'email',
        Endpoint: 'ops@example.com',
        TopicArn: topic(),
      });
    });

    it('has no email subscription when alarmEmail is not set', () => {
      synth().monitoring.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    it('fires on a relay 5xx rate above 5 %', () => {
      const a = alarm('Relay5xxRate');
      expect(a).toMatchObject({ Threshold: 5, ComparisonOperator: 'GreaterThanThreshold' });
      expect(JSON.stringify(a.Metrics)).toContain('100 * errors / requests');
      expect(JSON.stringify(a.Metrics)).toContain('"MetricName":"Errors5xx"');
    });

    it('fires on a CloudFront 5xx rate above 5 % (alarms must share the metric region)', () => {
      expect(metric('Edge5xxRate')).toMatchObject({
        Namespace: 'AWS/CloudFront',
        MetricName: '5xxErrorRate',
      });
      expect(alarm('Edge5xxRate').Threshold).toBe(5);
      const eu = synth({ context: { region: 'eu-west-1', cloudfrontPrefixListId: 'pl-4fa04526' } });
      const euAlarms = Object.keys(eu.monitoring.findResources('AWS::CloudWatch::Alarm'));
      expect(euAlarms.some((k) => k.includes('Edge5xxRate'))).toBe(false);
    });

    it('recovers the host on a failed system status check', () => {
      const a = alarm('HostSystemStatus');
      expect(a).toMatchObject({ MetricName: 'StatusCheckFailed_System', Namespace: 'AWS/EC2' });
      expect(JSON.stringify(a.AlarmActions)).toContain(':automate:');
      expect(JSON.stringify(a.AlarmActions)).toContain('ec2:recover');
    });

    it('fires when the data volume (the database) is above 80 %, the root disk above 85 % and memory above 90 %', () => {
      for (const [id, threshold] of [
        ['HostDataDiskUsed', 80],
        ['HostDiskUsed', 85],
      ] as const) {
        expect(alarm(id), id).toMatchObject({
          Namespace: 'CWAgent',
          MetricName: 'disk_used_percent',
          Threshold: threshold,
          TreatMissingData: 'breaching',
        });
      }
      const disk = alarm('HostDiskUsed').Dimensions as { Name: string; Value: unknown }[];
      expect(disk.map((d) => d.Name).sort()).toEqual(['InstanceId', 'fstype', 'path']);
      expect(alarm('HostMemoryUsed')).toMatchObject({
        Namespace: 'CWAgent',
        MetricName: 'mem_used_percent',
        Threshold: 90,
      });
    });

    it('fires when there is no request for idleAlarmHours, counting silence as breaching', () => {
      expect(metric('NoRequests')).toMatchObject({
        Namespace: 'LlmRelay',
        MetricName: 'Requests',
        Period: 3600,
        Stat: 'Sum',
      });
      expect(alarm('NoRequests')).toMatchObject({
        EvaluationPeriods: 24,
        ComparisonOperator: 'LessThanThreshold',
        Threshold: 1,
        TreatMissingData: 'breaching',
      });
      const off = synth({ context: { idleAlarmHours: 0 } });
      expect(
        Object.keys(off.monitoring.findResources('AWS::CloudWatch::Alarm')).some((k) =>
          k.includes('NoRequests'),
        ),
      ).toBe(false);
    });

    it('the topic only accepts TLS publishers', () => {
      const policy = onlyResource(s.monitoring, 'AWS::SNS::TopicPolicy').resource.Properties!;
      expect(JSON.stringify(policy)).toContain('"aws:SecureTransport":"false"');
    });
  });
});

describe('backup failures', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth();
  });

  it("count the relay's own failure line in its log group and alarm on the first one", () => {
    const filter = onlyResource(s.monitoring, 'AWS::Logs::MetricFilter').resource.Properties!;
    expect(filter.LogGroupName).toBe('/llm-relay/relay');
    expect(filter.FilterPattern).toBe('{ $.msg = "database backup failed" }');
    // The line the relay writes: pino's msg field, the message the backup code logs.
    const lines: string[] = [];
    const logger = createLogger({ destination: { write: (l: string) => lines.push(l) } });
    logger.error({ backup: { bucket: 'b' } }, BACKUP_FAILED_MESSAGE);
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'database backup failed' });
    const [transform] = filter.MetricTransformations as Record<string, unknown>[];
    const alarm = resourceNamed(s.monitoring, 'AWS::CloudWatch::Alarm', 'MonitoringBackupFailed')
      .resource.Properties!;
    expect(alarm).toMatchObject({
      Namespace: transform!.MetricNamespace,
      MetricName: transform!.MetricName,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(alarm.AlarmActions).toContainEqual({
      Ref: onlyResource(s.monitoring, 'AWS::SNS::Topic').logicalId,
    });
  });

  it("send the vault's failed AWS Backup jobs to the alarm topic", () => {
    const rule = onlyResource(s.monitoring, 'AWS::Events::Rule').resource.Properties!;
    const vault = onlyResource(s.stateful, 'AWS::Backup::BackupVault').logicalId;
    expect(rule.EventPattern).toMatchObject({
      source: ['aws.backup'],
      'detail-type': ['Backup Job State Change'],
      detail: { state: expect.arrayContaining(['FAILED', 'ABORTED']) },
    });
    expect(joined((rule.EventPattern as Json).detail.backupVaultName[0])).toMatch(
      new RegExp(`^<import:LlmRelay-Stateful:ExportsOutputFnGetAtt${vault}BackupVaultName`),
    );
    expect(rule.Targets).toEqual([
      expect.objectContaining({
        Arn: { Ref: onlyResource(s.monitoring, 'AWS::SNS::Topic').logicalId },
      }),
    ]);
    const policy = JSON.stringify(onlyResource(s.monitoring, 'AWS::SNS::TopicPolicy').resource);
    expect(policy).toContain('events.amazonaws.com');
  });
});

describe('references to the Relay stack', () => {
  it('go through SSM parameters, re-resolved at every deploy: nothing that can go stale', () => {
    const x = synth({ context: { region: 'eu-west-1', cloudfrontPrefixListId: 'pl-4fa04526' } });
    const monitoring = JSON.stringify(x.monitoring.toJSON());
    // An export in use cannot change (the Relay stack's update would fail on a replaced
    // instance); a weak Fn::GetStackOutput leaves this template byte-identical, and the CDK CLI
    // skips an unchanged stack, so the alarms would keep the old ids.
    // (The one import, the retained backup vault's name from the Stateful stack, never changes.)
    expect(monitoring).not.toMatch(/"Fn::ImportValue":"LlmRelay-Relay/);
    expect(monitoring).not.toContain('Fn::GetStackOutput');
    const exports = Object.values(
      (x.relay.toJSON().Outputs ?? {}) as Record<string, { Export?: { Name: unknown } }>,
    ).filter((o) => o.Export);
    expect(exports).toEqual([]);
    const parameters = x.monitoring.toJSON().Parameters as Record<
      string,
      { Type: string; Default: string; Description?: string }
    >;
    const written = x.relay.findResources('AWS::SSM::Parameter');
    const valueOf = (name: string) =>
      Object.values(written).find((r) => r.Properties.Name === name)?.Properties.Value as unknown;
    const instance = onlyResource(x.relay, 'AWS::EC2::Instance').logicalId;
    const distribution = onlyResource(x.relay, 'AWS::CloudFront::Distribution').logicalId;
    expect(parameters.InstanceId).toMatchObject({ Type: 'AWS::SSM::Parameter::Value<String>' });
    expect(valueOf(parameters.InstanceId!.Default)).toEqual({ Ref: instance });
    expect(valueOf(parameters.DistributionId!.Default)).toEqual({ Ref: distribution });
    // "[cdk:skip]" in a description would let the CLI skip the stack after all.
    for (const p of Object.values(parameters).filter((p) => p.Type.startsWith('AWS::SSM'))) {
      if (p.Default.includes('cdk-bootstrap')) continue;
      expect(p.Description ?? '').not.toContain('[cdk:skip]');
    }
    expect(JSON.stringify(x.monitoring.findResources('AWS::CloudWatch::Alarm'))).toContain(
      '{"Ref":"InstanceId"}',
    );
    expect(JSON.stringify(x.monitoring.findResources('AWS::CloudWatch::Dashboard'))).toContain(
      '{"Ref":"DistributionId"}',
    );
    expect(x.stacks.monitoring.dependencies).toContain(x.stacks.relay);
  });
});
