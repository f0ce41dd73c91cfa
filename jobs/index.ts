// The handler of every step of the catalog (src/step.ts), and which of them each kind of worker runs.
import { stepsOn, type Step, type StepHandler, type StepName, type WorkerKind } from '../src/step.js';
import checkMasterFlag from './check-master-flag.js';
import startTechnicalPort from './start-technical-port.js';
import configureReplication from './configure-replication.js';
import createUsers from './create-users.js';
import createRepmgrDb from './create-repmgr-db.js';
import registerPrimary from './register-primary.js';
import restartConsumerPort from './restart-consumer-port.js';
import startRepmgrd from './start-repmgrd.js';
import waitPrimary from './wait-primary.js';
import standbyClone from './standby-clone.js';
import startStandby from './start-standby.js';
import registerStandby from './register-standby.js';
import barmanConfig from './barman-config.js';
import barmanSchedule from './barman-schedule.js';
import barmanCron from './barman-cron.js';
import barmanFirstBackup from './barman-first-backup.js';
import barmanListBackups from './barman-list-backups.js';
import barmanSwitchPrimary from './barman-switch-primary.js';
import barmanBackup from './barman-backup.js';
import barmanCheck from './barman-check.js';
import barmanReady from './barman-ready.js';
import decideAndStart from './decide-and-start.js';
import registerNode from './register-node.js';
import ensureFollowsStep from './ensure-follows.js';
import setRepmgrdPaused from './set-repmgrd-paused.js';
import stopPostgresStep from './stop-postgres.js';
import promote from './promote.js';
import rejoinNode from './rejoin-node.js';
import repmgrEvent from './repmgr-event.js';
import barmanRestorePlan from './barman-restore-plan.js';
import barmanRecover from './barman-recover.js';
import barmanReconcile from './barman-reconcile.js';
import installRestored from './install-restored.js';
import recloneStandby from './reclone-standby.js';
import forgetOldData from './forget-old-data.js';
import writeParameters from './write-parameters.js';

/**
 * One handler per catalog step, keyed by its name: a step missing here, a key the catalog lacks, or a
 * handler defined for another name does not compile.
 */
export const handlers = {
  'check-master-flag': checkMasterFlag,
  'start-technical-port': startTechnicalPort,
  'configure-replication': configureReplication,
  'create-users': createUsers,
  'create-repmgr-db': createRepmgrDb,
  'register-primary': registerPrimary,
  'restart-consumer-port': restartConsumerPort,
  'start-repmgrd': startRepmgrd,
  'wait-primary': waitPrimary,
  'standby-clone': standbyClone,
  'start-standby': startStandby,
  'register-standby': registerStandby,
  'barman-config': barmanConfig,
  'barman-schedule': barmanSchedule,
  'barman-cron': barmanCron,
  'barman-first-backup': barmanFirstBackup,
  'barman-list-backups': barmanListBackups,
  'barman-switch-primary': barmanSwitchPrimary,
  'barman-backup': barmanBackup,
  'barman-check': barmanCheck,
  'barman-ready': barmanReady,
  'decide-and-start': decideAndStart,
  'register-node': registerNode,
  'ensure-follows': ensureFollowsStep,
  'set-repmgrd-paused': setRepmgrdPaused,
  'stop-postgres': stopPostgresStep,
  promote,
  'rejoin-node': rejoinNode,
  'repmgr-event': repmgrEvent,
  'barman-restore-plan': barmanRestorePlan,
  'barman-recover': barmanRecover,
  'barman-reconcile': barmanReconcile,
  'install-restored': installRestored,
  'reclone-standby': recloneStandby,
  'forget-old-data': forgetOldData,
  'write-parameters': writeParameters,
} satisfies { [K in StepName]: StepHandler<K> };

/** The handlers a kind of worker runs, by step name (what workers/runtime.ts dispatches on). */
export function stepsOf(worker: WorkerKind): Map<string, Step<any>> {
  return new Map(stepsOn(worker).map((name) => [name, handlers[name] as Step<any>]));
}

export const nodeSteps = stepsOf('node');
export const barmanSteps = stepsOf('barman');
export const controlSteps = stepsOf('control');
