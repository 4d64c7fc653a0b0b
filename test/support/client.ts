/** A minimal GraphQL-over-HTTP client, as a storefront would use it. */
export interface GqlResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
  extensions?: { sqlStatements?: number };
}

export function client(url: string) {
  return async function gql<T = any>(
    query: string,
    variables: Record<string, unknown> = {},
    token?: string,
  ): Promise<GqlResponse<T>> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as GqlResponse<T>;
    return { ...body, status: res.status };
  };
}

export type Gql = ReturnType<typeof client>;

/** The first error code of a response, for compact assertions. */
export const codeOf = (r: GqlResponse) => r.errors?.[0]?.extensions?.code;
