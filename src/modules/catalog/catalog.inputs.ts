import {
  ArrayMaxSize,
  ArrayMinSize,
  IsOptional,
  IsUrl,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  IsInt,
  ValidateNested,
} from 'class-validator';
import { Field, ID, InputType, Int } from 'type-graphql';
import { StockPolicy } from './product.entity';

const MONEY = /^\d{1,12}(\.\d{1,2})?$/;
const MONEY_MSG = 'must be a non-negative amount such as "19.99"';
const ID_PATTERN = /^\d{1,19}$/;
/** Attribute names are short identifiers; '=' is reserved as the name/value separator in search. */
const ATTR_NAME = /^[^=]{1,40}$/;
/** Text fields are stored trimmed, so whitespace alone would store an empty string. */
const NOT_BLANK = /\S/;

@InputType()
export class AttributeInput {
  @Field(() => String)
  @Matches(ATTR_NAME, { message: 'attribute name must be 1-40 characters without "="' })
  @Matches(NOT_BLANK, { message: 'attribute name must not be blank' })
  name!: string;

  @Field(() => String)
  @Length(1, 100)
  @Matches(NOT_BLANK, { message: 'attribute value must not be blank' })
  value!: string;
}

@InputType()
export class VariantInput {
  @Field(() => String)
  @Matches(/^[A-Za-z0-9._\-/]{1,64}$/, { message: 'sku must be 1-64 letters, digits or ._-/' })
  sku!: string;

  @Field(() => String)
  @Length(1, 200)
  @Matches(NOT_BLANK, { message: 'title must not be blank' })
  title!: string;

  @Field(() => String, { description: 'Decimal amount, e.g. "19.99".' })
  @Matches(MONEY, { message: `price ${MONEY_MSG}` })
  price!: string;

  @Field(() => [AttributeInput])
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  attributes!: AttributeInput[];

  @Field(() => Int)
  @Min(0)
  @Max(1_000_000_000)
  onHand!: number;
}

/** Lowercase words of letters and digits joined by "-", as in a URL path. */
export const SLUG = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const SLUG_MSG = 'slug must be lowercase letters and digits in words joined by "-"';

@InputType({ description: 'A product picture.' })
export class ImageInput {
  @Field(() => String)
  @IsUrl(
    { require_protocol: true, protocols: ['http', 'https'] },
    { message: 'media url must be an http(s) URL' },
  )
  @MaxLength(2000)
  url!: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(300)
  alt?: string | null;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(20_000)
  width?: number | null;

  @Field(() => Int, { nullable: true })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(20_000)
  height?: number | null;
}

@InputType({ description: 'Unset fields fall back to the title and the start of the description.' })
export class SeoInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(200)
  title?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(500)
  description?: string | null;
}

@InputType()
export class ProductCreateInput {
  @Field(() => String)
  @Length(1, 200)
  @Matches(NOT_BLANK, { message: 'title must not be blank' })
  title!: string;

  @Field(() => String)
  @MaxLength(10_000)
  description!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Unique; generated from the title when not given (a numeric suffix on collision).',
  })
  @IsOptional()
  @Matches(SLUG, { message: SLUG_MSG })
  @MaxLength(100)
  slug?: string | null;

  @Field(() => [ImageInput], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  media?: ImageInput[] | null;

  @Field(() => SeoInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  seo?: SeoInput | null;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @Matches(ID_PATTERN, { message: 'categoryId is not a valid id' })
  categoryId?: string | null;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(20)
  @Length(1, 60, { each: true })
  collections?: string[] | null;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(20)
  @IsUrl(
    { require_protocol: true, protocols: ['http', 'https'] },
    { each: true, message: 'images must be http(s) URLs' },
  )
  @MaxLength(2000, { each: true })
  images?: string[] | null;

  @Field(() => StockPolicy, { nullable: true, defaultValue: StockPolicy.RESERVE_ON_ORDER })
  @IsOptional()
  stockPolicy?: StockPolicy | null;

  @Field(() => [VariantInput])
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  variants!: VariantInput[];
}

@InputType()
export class ProductUpdateInput {
  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 200)
  @Matches(NOT_BLANK, { message: 'title must not be blank' })
  title?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @MaxLength(10_000)
  description?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Sets a new slug (the old one stops resolving). A title change alone keeps the slug.',
  })
  @IsOptional()
  @Matches(SLUG, { message: SLUG_MSG })
  @MaxLength(100)
  slug?: string | null;

  @Field(() => [ImageInput], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  media?: ImageInput[] | null;

  @Field(() => SeoInput, { nullable: true })
  @IsOptional()
  @ValidateNested()
  seo?: SeoInput | null;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @Matches(ID_PATTERN, { message: 'categoryId is not a valid id' })
  categoryId?: string | null;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(20)
  @Length(1, 60, { each: true })
  collections?: string[] | null;

  @Field(() => [String], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(20)
  @IsUrl(
    { require_protocol: true, protocols: ['http', 'https'] },
    { each: true, message: 'images must be http(s) URLs' },
  )
  @MaxLength(2000, { each: true })
  images?: string[] | null;

  @Field(() => StockPolicy, { nullable: true })
  @IsOptional()
  stockPolicy?: StockPolicy | null;
}

@InputType()
export class CategoryCreateInput {
  @Field(() => String)
  @Length(1, 100)
  @Matches(NOT_BLANK, { message: 'name must not be blank' })
  name!: string;

  @Field(() => String)
  @Matches(/^[a-z0-9]+(-[a-z0-9]+)*$/, { message: 'slug must be lowercase words joined by "-"' })
  @MaxLength(100)
  slug!: string;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @Matches(ID_PATTERN, { message: 'parentId is not a valid id' })
  parentId?: string | null;
}

@InputType()
export class AttributeFilter {
  @Field(() => String)
  @Matches(ATTR_NAME, { message: 'attribute name must be 1-40 characters without "="' })
  name!: string;

  @Field(() => [String])
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @Length(1, 100, { each: true })
  values!: string[];
}

@InputType({ description: 'Filters combine with AND; values of one attribute combine with OR.' })
export class ProductFilter {
  @Field(() => String, {
    nullable: true,
    description:
      'Full-text query over title, description and attribute values; the last word matches as a prefix.',
  })
  @IsOptional()
  @MaxLength(200)
  query?: string | null;

  @Field(() => ID, { nullable: true, description: 'This category and its descendants.' })
  @IsOptional()
  @Matches(ID_PATTERN, { message: 'categoryId is not a valid id' })
  categoryId?: string | null;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(1, 60)
  collection?: string | null;

  @Field(() => ID, { nullable: true })
  @IsOptional()
  @Matches(ID_PATTERN, { message: 'merchantId is not a valid id' })
  merchantId?: string | null;

  @Field(() => String, { nullable: true, description: 'Products with a variant at or above this price.' })
  @IsOptional()
  @Matches(MONEY, { message: `priceMin ${MONEY_MSG}` })
  priceMin?: string | null;

  @Field(() => String, { nullable: true, description: 'Products with a variant at or below this price.' })
  @IsOptional()
  @Matches(MONEY, { message: `priceMax ${MONEY_MSG}` })
  priceMax?: string | null;

  @Field(() => [AttributeFilter], { nullable: true })
  @IsOptional()
  @ArrayMaxSize(10)
  @ValidateNested({ each: true })
  attributes?: AttributeFilter[] | null;

  @Field(() => Boolean, { nullable: true })
  @IsOptional()
  inStockOnly?: boolean | null;
}
