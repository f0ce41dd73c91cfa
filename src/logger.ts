// Process logs (workers, dashboard): one line per event, timestamped.
import winston from 'winston';

export function createLogger(component: string) {
  return winston.createLogger({
    level: process.env.PGHA_LOG_LEVEL ?? 'info',
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.printf((i) => `${i.timestamp} ${component} ${i.level}: ${i.message}`),
    ),
    transports: [new winston.transports.Console()],
  });
}
