import type { ApolloServerPlugin } from '@apollo/server';
import type { ReadRouter } from '../db/read-routing';
import type { RequestContext } from './apollo-plugins';

/**
 * Read-your-writes (docs/replicas.md): once a signed-in client's mutation has run, the primary's
 * WAL position is recorded for the client before the response leaves, so the client's next read
 * (through any process) does not reach a replica that lacks the write. Every mutation counts,
 * whether or not it changed anything: recording one too many only sends a few reads to the primary.
 */
export function readYourWritesPlugin(reads: ReadRouter): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, operation }) {
          if (operation?.operation !== 'mutation' || !reads.enabled) return;
          await reads.recordWrite(contextValue.principal);
        },
      };
    },
  };
}
