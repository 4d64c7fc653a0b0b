import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

const baseUrl = () => {
  const url = process.env.TEST_PG_URL;
  if (!url) throw new Error('TEST_PG_URL is unset: run tests through jest (global setup starts PostgreSQL)');
  return url;
};

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A fresh, migrated database of its own, copied from the template made by the global setup. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `t_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: baseUrl() });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${process.env.TEST_PG_TEMPLATE}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(baseUrl(), name),
    async drop() {
      const c = new Client({ connectionString: baseUrl() });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}
