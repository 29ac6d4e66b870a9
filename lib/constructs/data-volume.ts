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

  constructor(scope: Construct, id: string, props: DataVolumeProps) {
    super(scope, id);
    this.volume = new ec2.Volume(this, 'Volume', {
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
