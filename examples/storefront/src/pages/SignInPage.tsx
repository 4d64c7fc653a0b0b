import { useApolloClient, useMutation } from '@apollo/client/react';
import { useState } from 'react';
import { SignIn } from '../documents';
import { navigate, useLocation } from '../router';
import { session } from '../session';

/** Signing in hands over the anonymous cart's id: the server merges it into the customer's cart. */
export function SignInPage() {
  const next = useLocation().searchParams.get('next') ?? '/';
  const [signIn, { loading }] = useMutation(SignIn);
  const client = useApolloClient();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [problem, setProblem] = useState<string>();
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        const r = (await signIn({ variables: { email, password, cartId: session.cartId } })).data?.signIn;
        if (r?.__typename !== 'AuthPayload')
          return setProblem(r && 'message' in r ? r.message : 'Sign-in failed');
        session.signedIn(r.token, r.viewer.name, r.cart?.id ?? session.cartId);
        // Answers cached for the anonymous shopper must not be shown to the signed-in one.
        await client.resetStore();
        navigate(next);
      }}
    >
      <h1>Sign in</h1>
      <input aria-label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
      <input
        aria-label="Password"
        type="password"
        value={password}
        onChange={(e) => setPassword(e.target.value)}
      />
      <button type="submit" disabled={loading}>
        Sign in
      </button>
      {problem && <p role="alert">{problem}</p>}
    </form>
  );
}
