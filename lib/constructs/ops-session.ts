import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { OPS_USER } from './relay-host-files.ts';

export interface OpsSessionDocumentProps {
  /**
   * Minutes without input before Session Manager ends a session.
   * @default 20
   */
  readonly idleMinutes?: number;
}

/**
 * A Session Manager document for read-only ops shells on the relay host: the session runs as the
 * unprivileged OPS_USER instead of ssm-user, whom AL2023 gives passwordless sudo (and with it the
 * provider keys and the database). The ops policy allows StartSession with this document only.
 */
export class OpsSessionDocument extends Construct {
  readonly document: ssm.CfnDocument;
  /** The document's name, for `aws ssm start-session --document-name`. */
  readonly documentName: string;

  constructor(scope: Construct, id: string, props: OpsSessionDocumentProps = {}) {
    super(scope, id);
    this.document = new ssm.CfnDocument(this, 'Document', {
      documentType: 'Session',
      documentFormat: 'JSON',
      content: {
        schemaVersion: '1.0',
        description: `llm-relay read-only ops shell (runs as ${OPS_USER}, no sudo)`,
        sessionType: 'Standard_Stream',
        inputs: {
          runAsEnabled: true,
          runAsDefaultUser: OPS_USER,
          idleSessionTimeout: String(props.idleMinutes ?? 20),
          // Session logging stays the account's choice (its default session preferences).
          s3EncryptionEnabled: true,
          cloudWatchEncryptionEnabled: true,
          cloudWatchStreamingEnabled: false,
          shellProfile: { linux: 'cd ~' },
        },
      },
    });
    this.documentName = this.document.ref;
  }
}
