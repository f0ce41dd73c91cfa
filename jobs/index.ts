// Which steps each kind of worker runs.
import type { Step } from '../src/step.js';
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

const byName = (steps: Step<any>[]) => new Map(steps.map((s) => [s.name, s]));

export const nodeSteps = byName([
  checkMasterFlag,
  startTechnicalPort,
  configureReplication,
  createUsers,
  createRepmgrDb,
  registerPrimary,
  restartConsumerPort,
  startRepmgrd,
  waitPrimary,
  standbyClone,
  startStandby,
  registerStandby,
  decideAndStart,
  registerNode,
  ensureFollowsStep,
  setRepmgrdPaused,
  stopPostgresStep,
  promote,
  rejoinNode,
  installRestored,
  recloneStandby,
  forgetOldData,
]);

export const barmanSteps = byName([barmanConfig, barmanSchedule, barmanCron, barmanFirstBackup, barmanListBackups, barmanSwitchPrimary, barmanBackup, barmanCheck, barmanReady, barmanRestorePlan, barmanRecover, barmanReconcile]);

export const controlSteps = byName([repmgrEvent]);
