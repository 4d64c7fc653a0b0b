import { createUnionType, Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { UserError } from '../../shared/error-result';
import { Role, User } from './user.entity';
import { CartType } from '../cart/cart.types';

registerEnumType(Role, { name: 'Role', description: 'What a user may do.' });

@ObjectType({ description: 'The signed-in user.' })
export class Viewer {
  @Field(() => ID) id!: string;
  @Field(() => String) email!: string;
  @Field(() => String) name!: string;
  @Field(() => [Role]) roles!: Role[];
  @Field(() => Int, { description: 'Loyalty points.' }) points!: number;
  merchantId?: string | null;
}

@ObjectType({ description: 'A signed-in session.' })
export class AuthPayload {
  @Field(() => String, { description: 'Bearer token for the Authorization header.' }) token!: string;
  @Field(() => Viewer) viewer!: User;
  @Field(() => CartType, {
    nullable: true,
    description: "The customer's cart after an anonymous cart passed to signIn was merged into it.",
  })
  cart?: CartType | null;

  static of(token: string, viewer: User): AuthPayload {
    return Object.assign(new AuthPayload(), { token, viewer });
  }
}

@ObjectType({ description: 'A buyer as a merchant sees them.' })
export class Customer {
  @Field(() => ID) id!: string;
  @Field(() => String) name!: string;
}

@ObjectType({
  description:
    'signUp with verification by mail (SIGNUP_VERIFICATION=email): a mail was sent to the address. It is the same answer whether the address has an account or not; the account is created by signUpConfirm with the mailed code.',
})
export class SignUpPending {
  @Field(() => String, { description: 'The address the mail went to (trimmed, lower case).' }) email!: string;
  @Field(() => String, { description: 'What to tell the person signing up.' }) message!: string;

  static of(email: string): SignUpPending {
    return Object.assign(new SignUpPending(), {
      email,
      message: 'Check your inbox: we sent a mail to this address to finish signing up.',
    });
  }
}

export const SignUpResult = createUnionType({
  name: 'SignUpResult',
  types: () => [AuthPayload, UserError, SignUpPending] as const,
});
export const SignUpConfirmResult = createUnionType({
  name: 'SignUpConfirmResult',
  types: () => [AuthPayload, UserError] as const,
});
export const SignInResult = createUnionType({
  name: 'SignInResult',
  types: () => [AuthPayload, UserError] as const,
});
export const PasswordChangeResult = createUnionType({
  name: 'PasswordChangeResult',
  types: () => [AuthPayload, UserError] as const,
});
