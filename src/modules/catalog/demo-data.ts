import type { EntityManager } from '@mikro-orm/postgresql';
import { sqlAll } from '../../db/sql';
import type { IdentityService } from '../identity/identity.service';

/**
 * A deterministic generated catalog: the demo data of the embedded default and the large
 * catalogs of the benchmarks. Same seed, same catalog.
 */

function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
  const sample = <T>(xs: readonly T[], n: number): T[] => {
    const copy = [...xs];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy.slice(0, n);
  };
  return { next, int, pick, sample };
}

/** 5 departments with 3 sub-categories each: 20 categories. */
const TREE: {
  name: string;
  children: { name: string; nouns: string[]; sizes: string[]; price: [number, number] }[];
}[] = [
  {
    name: 'Clothing',
    children: [
      {
        name: 'T-Shirts',
        nouns: ['T-Shirt', 'Tee', 'Polo'],
        sizes: ['S', 'M', 'L', 'XL'],
        price: [1200, 4500],
      },
      {
        name: 'Jackets',
        nouns: ['Jacket', 'Parka', 'Windbreaker', 'Coat'],
        sizes: ['S', 'M', 'L', 'XL'],
        price: [5000, 25000],
      },
      {
        name: 'Trousers',
        nouns: ['Jeans', 'Chinos', 'Trousers', 'Joggers'],
        sizes: ['28', '30', '32', '34', '36'],
        price: [3000, 12000],
      },
    ],
  },
  {
    name: 'Footwear',
    children: [
      {
        name: 'Sneakers',
        nouns: ['Sneaker', 'Trainer', 'Runner'],
        sizes: ['38', '39', '40', '41', '42', '43', '44'],
        price: [4000, 18000],
      },
      {
        name: 'Boots',
        nouns: ['Boot', 'Chelsea Boot', 'Hiking Boot'],
        sizes: ['38', '39', '40', '41', '42', '43', '44'],
        price: [7000, 30000],
      },
      {
        name: 'Sandals',
        nouns: ['Sandal', 'Slide', 'Flip-Flop'],
        sizes: ['38', '40', '42', '44'],
        price: [1500, 8000],
      },
    ],
  },
  {
    name: 'Home',
    children: [
      {
        name: 'Bedding',
        nouns: ['Duvet Cover', 'Pillowcase', 'Sheet Set', 'Blanket'],
        sizes: ['Single', 'Double', 'King'],
        price: [2500, 15000],
      },
      {
        name: 'Kitchen',
        nouns: ['Mug', 'Bowl', 'Plate', 'Teapot', 'Carafe'],
        sizes: ['Small', 'Large'],
        price: [800, 6000],
      },
      {
        name: 'Lighting',
        nouns: ['Lamp', 'Pendant', 'Lantern'],
        sizes: ['Small', 'Medium', 'Large'],
        price: [3000, 22000],
      },
    ],
  },
  {
    name: 'Sports',
    children: [
      {
        name: 'Yoga',
        nouns: ['Yoga Mat', 'Yoga Block', 'Yoga Strap'],
        sizes: ['Standard', 'Long'],
        price: [1000, 9000],
      },
      {
        name: 'Cycling',
        nouns: ['Cycling Jersey', 'Bike Light', 'Helmet'],
        sizes: ['S', 'M', 'L'],
        price: [2000, 15000],
      },
      {
        name: 'Running',
        nouns: ['Running Shorts', 'Running Vest', 'Running Cap'],
        sizes: ['S', 'M', 'L', 'XL'],
        price: [1500, 7000],
      },
    ],
  },
  {
    name: 'Accessories',
    children: [
      {
        name: 'Bags',
        nouns: ['Backpack', 'Tote', 'Messenger Bag', 'Duffel'],
        sizes: ['One Size'],
        price: [2500, 20000],
      },
      { name: 'Hats', nouns: ['Beanie', 'Cap', 'Bucket Hat'], sizes: ['S/M', 'L/XL'], price: [1200, 5000] },
      {
        name: 'Watches',
        nouns: ['Watch', 'Chronograph', 'Smartwatch Band'],
        sizes: ['38mm', '42mm'],
        price: [5000, 60000],
      },
    ],
  },
];

const ADJECTIVES = [
  'Classic',
  'Essential',
  'Urban',
  'Vintage',
  'Lightweight',
  'Premium',
  'Everyday',
  'Rugged',
  'Slim',
  'Relaxed',
  'Organic',
  'Recycled',
  'Alpine',
  'Coastal',
  'Nordic',
  'Studio',
  'Heritage',
  'Modern',
  'Soft',
  'Waterproof',
];
const MATERIALS = [
  'Cotton',
  'Linen',
  'Wool',
  'Leather',
  'Canvas',
  'Denim',
  'Merino',
  'Bamboo',
  'Ceramic',
  'Steel',
  'Suede',
  'Fleece',
];
const COLORS = ['Black', 'White', 'Navy', 'Red', 'Green', 'Grey', 'Beige', 'Blue', 'Olive', 'Burgundy'];
const COLLECTIONS = ['summer-sale', 'new-arrivals', 'best-of-2026', 'gift-ideas'];

export interface DemoLogin {
  role: string;
  email: string;
  password: string;
}

export interface GenerateOptions {
  products: number;
  seed?: number;
  /** Progress callback, called after each batch. */
  onProgress?: (done: number) => void;
}

/** Categories and merchants with their owners; idempotent per slug and email. */
async function ensureStructure(
  em: EntityManager,
  identity: IdentityService,
): Promise<{
  merchants: string[];
  leaves: { id: string; spec: (typeof TREE)[0]['children'][0] }[];
  logins: DemoLogin[];
}> {
  const leaves: { id: string; spec: (typeof TREE)[0]['children'][0] }[] = [];
  for (const dept of TREE) {
    const slug = dept.name.toLowerCase();
    const [root] = await sqlAll<{ id: string }>(
      em,
      `insert into category (name, slug) values ($1, $2) on conflict (slug) do update set name = excluded.name returning id`,
      [dept.name, slug],
    );
    for (const child of dept.children) {
      const [c] = await sqlAll<{ id: string }>(
        em,
        `insert into category (name, slug, parent_id) values ($1, $2, $3) on conflict (slug) do update set name = excluded.name returning id`,
        [child.name, `${slug}-${child.name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`, root.id],
      );
      leaves.push({ id: String(c.id), spec: child });
    }
  }
  const logins: DemoLogin[] = [];
  const merchants: string[] = [];
  const shops = ['Northwind Outfitters', 'Harbor & Pine', 'Lumen Home Goods'];
  for (const [i, name] of shops.entries()) {
    const email = `merchant${i + 1}@example.com`;
    const password = `demo-merchant-${i + 1}`;
    const [existing] = await sqlAll<{ merchant_id: string }>(
      em,
      'select merchant_id from app_user where email = $1',
      [email],
    );
    const id = existing
      ? String(existing.merchant_id)
      : String(
          (
            await identity.createMerchant(em, {
              name,
              ownerEmail: email,
              ownerPassword: password,
              ownerName: `${name} owner`,
            })
          ).id,
        );
    merchants.push(id);
    logins.push({ role: `MERCHANT (${name})`, email, password });
  }
  const shopper = { email: 'shopper@example.com', password: 'demo-shopper' };
  const [exists] = await sqlAll(em, 'select 1 from app_user where email = $1', [shopper.email]);
  if (!exists) await identity.signUp(em, shopper.email, shopper.password, 'Demo Shopper');
  logins.push({ role: 'CUSTOMER', ...shopper });
  return { merchants, leaves, logins };
}

/**
 * Inserts `products` generated products (4 to 8 variants each) in batches, with bulk statements
 * so 100,000 products load in about a minute.
 */
export async function generateCatalog(
  em: EntityManager,
  identity: IdentityService,
  opts: GenerateOptions,
): Promise<DemoLogin[]> {
  const r = rng(opts.seed ?? 42);
  const { merchants, leaves, logins } = await ensureStructure(em, identity);
  const [{ n: offset }] = await sqlAll<{ n: number }>(em, 'select count(*)::int as n from product');
  const batch = 2000;
  for (let start = 0; start < opts.products; start += batch) {
    const count = Math.min(batch, opts.products - start);
    const p = {
      merchant: [] as string[],
      category: [] as string[],
      title: [] as string[],
      description: [] as string[],
      collections: [] as string[],
      images: [] as string[],
      policy: [] as string[],
    };
    const variants: {
      idx: number;
      sku: string;
      title: string;
      attrs: string;
      price: number;
      onHand: number;
    }[] = [];
    for (let i = 0; i < count; i++) {
      const n = offset + start + i;
      const leaf = r.pick(leaves);
      const merchant = merchants[n % merchants.length];
      const noun = r.pick(leaf.spec.nouns);
      const material = r.pick(MATERIALS);
      const adjective = r.pick(ADJECTIVES);
      const title = `${adjective} ${material} ${noun}`;
      p.merchant.push(merchant);
      p.category.push(leaf.id);
      p.title.push(title);
      p.description.push(
        `A ${adjective.toLowerCase()} ${noun.toLowerCase()} in ${material.toLowerCase()}, made for ${r.pick(['every day', 'the city', 'the outdoors', 'travel', 'weekends', 'the office'])}. Item ${n + 1}.`,
      );
      p.collections.push(JSON.stringify(r.next() < 0.25 ? [r.pick(COLLECTIONS)] : []));
      p.images.push(
        JSON.stringify([
          `https://images.example.com/products/${n + 1}/1.jpg`,
          `https://images.example.com/products/${n + 1}/2.jpg`,
        ]),
      );
      p.policy.push(r.next() < 0.8 ? 'RESERVE_ON_ORDER' : r.pick(['DEDUCT_ON_ORDER', 'DEDUCT_ON_PAYMENT']));
      const base = Math.round(r.int(leaf.spec.price[0], leaf.spec.price[1]) / 100) * 100 - 1;
      const colors = r.sample(COLORS, r.int(1, 3));
      const sizes = r.sample(leaf.spec.sizes, Math.min(leaf.spec.sizes.length, r.int(2, 4)));
      for (const color of colors) {
        for (const [si, size] of sizes.entries()) {
          const roll = r.next();
          variants.push({
            idx: i,
            sku: `P${n + 1}-${color.toUpperCase()}-${size.replace(/[^A-Za-z0-9]/g, '')}`,
            title: `${color} / ${size}`,
            attrs: JSON.stringify([
              { name: 'color', value: color },
              { name: 'size', value: size },
              { name: 'material', value: material },
            ]),
            price: base + si * 100,
            onHand: roll < 0.1 ? 0 : roll < 0.2 ? r.int(1, 5) : r.int(6, 200),
          });
        }
      }
    }
    await em.transactional(async (tx) => {
      const ids = await sqlAll<{ id: string }>(
        tx as EntityManager,
        // Slugs come from the titles (the database's trigger); media are the images with their sizes.
        `insert into product (merchant_id, category_id, title, description, collections, images, media, stock_policy)
         select m, c, t, d, array(select jsonb_array_elements_text(co)), array(select jsonb_array_elements_text(im)),
                (select jsonb_agg(jsonb_build_object('url', x, 'alt', t, 'width', 800, 'height', 800))
                   from jsonb_array_elements_text(im) x), sp
           from unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::text[])
             with ordinality as u(m, c, t, d, co, im, sp, ord)
          order by ord
         returning id`,
        [p.merchant, p.category, p.title, p.description, p.collections, p.images, p.policy],
      );
      // Identity values are drawn in insertion order, which follows `ord`.
      ids.sort((x, y) => (BigInt(x.id) < BigInt(y.id) ? -1 : 1));
      await sqlAll(
        tx as EntityManager,
        `insert into variant (product_id, merchant_id, sku, title, attributes, price, on_hand)
         select pr.id, pr.merchant_id, u.sku, u.title, u.attrs, u.price, u.on_hand
           from unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[], $5::bigint[], $6::int[]) as u(pid, sku, title, attrs, price, on_hand)
           join product pr on pr.id = u.pid`,
        [
          variants.map((v) => ids[v.idx].id),
          variants.map((v) => v.sku),
          variants.map((v) => v.title),
          variants.map((v) => v.attrs),
          variants.map((v) => v.price),
          variants.map((v) => v.onHand),
        ],
      );
    });
    opts.onProgress?.(start + count);
  }
  return logins;
}
