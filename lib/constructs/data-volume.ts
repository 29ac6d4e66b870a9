import { createHash } from 'node:crypto';
import { RemovalPolicy, Size } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface DataVolumeProps {
  /** Zone of the instance that mounts it: a volume attaches only within its own zone. */
  readonly availabilityZone: string;
  /**
   * Size; CloudFormation grows a gp3 volume in place (ModifyVolume), and the host grows its file
   * system at the next cfn-init. Shrinking is not possible.
   * @default 20
   */
  readonly sizeGiB?: number;
  /**
   * Create the volume from this snapshot (an AWS Backup recovery point, or a final snapshot).
   * @default - an empty volume
   */
  readonly snapshotId?: string;
}

/**
 * The EBS volume holding the relay's SQLite database, apart from the root volume: it outlives the
 * instance, and deleting or replacing it leaves a final snapshot behind.
 */
export class DataVolume extends Construct {
  readonly volume: ec2.Volume;
  /** Device name the instance attaches it under (see dataVolumeDevice). */
  readonly device: string;

  constructor(scope: Construct, id: string, props: DataVolumeProps) {
    super(scope, id);
    this.device = dataVolumeDevice(props.snapshotId);
    // CloudFormation cannot change SnapshotId (or the zone) of an AWS::EC2::Volume in place: a
    // restore must be a new resource, so the snapshot id is part of the logical id. Without a
    // snapshot the id stays 'Volume', the one existing deployments already have.
    this.volume = new ec2.Volume(this, volumeConstructId(props.snapshotId), {
      availabilityZone: props.availabilityZone,
      size: Size.gibibytes(props.sizeGiB ?? 20),
      ...(props.snapshotId && { snapshotId: props.snapshotId }),
      volumeType: ec2.EbsDeviceVolumeType.GP3,
      encrypted: true,
      volumeName: 'llm-relay data',
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
  }
}

/** `Volume`, or `VolumeFrom<snapshot id>` for a volume restored from that snapshot. */
export function volumeConstructId(snapshotId: string | undefined): string {
  if (!snapshotId) return 'Volume';
  return `VolumeFrom${snapshotId.replace(/[^A-Za-z0-9]/g, '')}`;
}

const RESTORE_DEVICE_LETTERS = 'ghijklmnop';

/**
 * The attach device: /dev/sdf for the first (empty) volume, and for a restored one a letter in
 * g–p picked from the snapshot id. CloudFormation attaches the new volume and detaches the old
 * one in one instance update, so the two must not share a name; a restore therefore never uses
 * /dev/sdf, and two restores in a row collide only when their ids pick the same letter (the
 * runbook in docs/deploy.md checks that before deploying).
 */
export function dataVolumeDevice(snapshotId: string | undefined): string {
  if (!snapshotId) return '/dev/sdf';
  const n = createHash('sha256').update(snapshotId).digest().readUInt32BE(0);
  return `/dev/sd${RESTORE_DEVICE_LETTERS[n % RESTORE_DEVICE_LETTERS.length]}`;
}
