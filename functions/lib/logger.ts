// One Powertools logger for all handlers. Task tokens and full events are never logged: handlers log ids only.
import { Logger } from '@aws-lambda-powertools/logger';

export const logger = new Logger({ serviceName: 'sentinel' });
