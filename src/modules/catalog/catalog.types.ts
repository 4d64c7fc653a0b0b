import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { Money } from '../../shared/types';
import { PageInfo } from '../../shared/types';
import { StockPolicy } from './product.entity';

registerEnumType(StockPolicy, {
  name: 'StockPolicy',
  description:
    "How a product's stock is taken: held for the payment window, taken at once, or taken only when payment succeeds.",
});

export enum Availability {
  IN_STOCK = 'IN_STOCK',
  LOW_STOCK = 'LOW_STOCK',
  OUT_OF_STOCK = 'OUT_OF_STOCK',
}
registerEnumType(Availability, { name: 'Availability', description: 'Stock as shoppers see it.' });

export enum ProductSort {
  RELEVANCE = 'RELEVANCE',
  PRICE_ASC = 'PRICE_ASC',
  PRICE_DESC = 'PRICE_DESC',
  NEWEST = 'NEWEST',
  BEST_SELLING = 'BEST_SELLING',
}
registerEnumType(ProductSort, {
  name: 'ProductSort',
  description:
    'RELEVANCE ranks full-text matches (NEWEST without a query); prices sort by the lowest variant price.',
});

@ObjectType('Merchant', { description: 'A shop on the marketplace.' })
export class MerchantType {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
}

@ObjectType('Category', { description: 'A node of the category tree.' })
export class CategoryType {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
  @Field(() => String) slug!: string;
  parentId?: string | null;
}

@ObjectType({ description: 'A variant attribute such as color or size.' })
export class Attribute {
  @Field(() => String) name!: string;
  @Field(() => String) value!: string;
}

@ObjectType({ description: 'Exact stock counts of a variant.' })
export class InventoryLevel {
  @Field(() => Int, { description: 'Units stocked, including those reserved and sold.' }) onHand!: number;
  @Field(() => Int, { description: 'Units held by unpaid orders.' }) reserved!: number;
  @Field(() => Int, { description: 'onHand - reserved - sold; never negative.' }) available!: number;
  @Field(() => Int, { description: 'Units sold.' }) sold!: number;
}

@ObjectType('Variant', { description: 'A sellable variant of a product.' })
export class VariantType {
  @Field(() => ID) id!: string;
  @Field(() => String) sku!: string;
  @Field(() => String) title!: string;
  @Field(() => [Attribute]) attributes!: Attribute[];
}

@ObjectType({ description: 'Lowest and highest variant price.' })
export class PriceRange {
  @Field(() => Money) min!: Money;
  @Field(() => Money) max!: Money;
}

@ObjectType('Image', {
  description: 'A product picture, with its size when known (for layout before it loads).',
})
export class ImageType {
  @Field(() => String) url!: string;
  @Field(() => String, { nullable: true }) alt!: string | null;
  @Field(() => Int, { nullable: true, description: 'Pixels.' }) width!: number | null;
  @Field(() => Int, { nullable: true, description: 'Pixels.' }) height!: number | null;
}

@ObjectType('Seo', { description: 'What a storefront puts in <title> and the meta description.' })
export class SeoType {
  @Field(() => String, { nullable: true }) title!: string | null;
  @Field(() => String, { nullable: true }) description!: string | null;
}

@ObjectType('Product', { description: 'A product with its variants.' })
export class ProductType {
  @Field(() => ID) id!: string;
  @Field(() => String) title!: string;
  @Field(() => String) description!: string;
  @Field(() => String, {
    description:
      'Unique, URL-safe, stable across title changes unless set again. Generated from the title when not given (a numeric suffix on collision).',
  })
  slug!: string;
  @Field(() => [String], { description: 'Virtual categories (tags) such as a sale event.' })
  collections!: string[];
  @Field(() => [String]) images!: string[];
  @Field(() => StockPolicy) stockPolicy!: StockPolicy;
  @Field(() => GraphQLDateTime) createdAt!: Date;
}

@ObjectType({ description: 'One value of a facet and how many products of the filtered result have it.' })
export class FacetValue {
  @Field(() => String) value!: string;
  @Field(() => Int) count!: number;
  @Field(() => String, {
    description: "What to show: the category's name for the category facet, the value itself for the others.",
  })
  label!: string;
}

@ObjectType({
  description:
    'Counts over the whole filtered result, for category (value: category id, label: its name), price band (value: "25-50" in major units, by lowest price) and each attribute name. The facet of an attribute being filtered on ignores its own filter, so a shopper can widen it.',
})
export class Facet {
  @Field(() => String) name!: string;
  @Field(() => [FacetValue]) values!: FacetValue[];
}

@ObjectType()
export class ProductEdge {
  @Field(() => String) cursor!: string;
  @Field(() => ProductType) node!: unknown;
}

@ObjectType({ description: 'A page of products; totalCount and facets are computed only when selected.' })
export class ProductConnection {
  @Field(() => [ProductEdge]) edges!: ProductEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
  /** Runs the count and facet query once, when totalCount or facets is selected. */
  stats!: () => Promise<{ totalCount: number; facets: Facet[] }>;
}
