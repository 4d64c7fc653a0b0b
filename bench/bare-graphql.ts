import { graphql, type GraphQLSchema } from 'graphql';
import { createServer, type IncomingMessage } from 'node:http';

/** What a baseline's resolvers count: the SQL statements they ran, reported like the server does. */
export interface BareContext {
  statements: number;
}

/**
 * The HTTP side of the benchmarks' bare baselines (search, product page, money path): node:http,
 * a JSON body in, graphql-js, a JSON answer out with `extensions.sqlStatements`, on PORT. `context`
 * makes a request's context; it answers null to refuse the request with a 401.
 */
export function serveBareGraphQL<C extends BareContext>(
  schema: GraphQLSchema,
  rootValue: object,
  context: (req: IncomingMessage) => Promise<C | null> = async () => ({ statements: 0 }) as C,
): void {
  createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const { query, variables } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const ctx = await context(req);
      if (!ctx) {
        res.writeHead(401).end();
        return;
      }
      const result = await graphql({
        schema,
        source: query,
        rootValue,
        variableValues: variables,
        contextValue: ctx,
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...result, extensions: { sqlStatements: ctx.statements } }));
    });
  }).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('baseline ready'));
}
