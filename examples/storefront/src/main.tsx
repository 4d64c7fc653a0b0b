import { ApolloProvider } from '@apollo/client/react';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { client } from './apollo';
import { CartPage } from './pages/CartPage';
import { CheckoutPage } from './pages/CheckoutPage';
import { Header } from './pages/Header';
import { OrderPage } from './pages/OrderPage';
import { ProductPage } from './pages/ProductPage';
import { SearchPage } from './pages/SearchPage';
import { SignInPage } from './pages/SignInPage';
import { useLocation } from './router';

function Routes() {
  const { pathname } = useLocation();
  let m: RegExpExecArray | null;
  if ((m = /^\/products\/([a-z0-9-]+)$/.exec(pathname))) return <ProductPage slug={m[1]} />;
  if ((m = /^\/orders\/(\w+)$/.exec(pathname))) return <OrderPage id={m[1]} />;
  if (pathname === '/cart') return <CartPage />;
  if (pathname === '/sign-in') return <SignInPage />;
  if (pathname === '/checkout') return <CheckoutPage />;
  return <SearchPage />;
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ApolloProvider client={client}>
      <Header />
      <main>
        <Routes />
      </main>
    </ApolloProvider>
  </StrictMode>,
);
