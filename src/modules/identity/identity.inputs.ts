import { IsEmail, Length, MaxLength } from 'class-validator';
import { Field, InputType } from 'type-graphql';

@InputType()
export class SignUpInput {
  @Field(() => String)
  @IsEmail({}, { message: 'email must be a valid email address' })
  @MaxLength(254)
  email!: string;

  @Field(() => String, { description: '8 to 200 characters.' })
  @Length(8, 200, { message: 'password must be 8 to 200 characters' })
  password!: string;

  @Field(() => String)
  @Length(1, 100)
  name!: string;
}

@InputType()
export class MerchantCreateInput {
  @Field(() => String)
  @Length(1, 200)
  name!: string;

  @Field(() => String)
  @IsEmail({}, { message: 'ownerEmail must be a valid email address' })
  @MaxLength(254)
  ownerEmail!: string;

  @Field(() => String)
  @Length(8, 200, { message: 'ownerPassword must be 8 to 200 characters' })
  ownerPassword!: string;

  @Field(() => String)
  @Length(1, 100)
  ownerName!: string;
}
