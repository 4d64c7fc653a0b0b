import type { SignupConfig } from '../../config';

/** The two mails a sign-up can send; both are rendered for every sign-up (same work either way). */
export interface SignupMails {
  confirm: { subject: string; text: string };
  existing: { subject: string; text: string };
}

export const CONFIRM_KIND = 'signup.confirm';
export const EXISTING_KIND = 'signup.existing';

/** The line of a confirmation mail that carries the code (tests and support read it back). */
export const CODE_PREFIX = 'Confirmation code: ';

export function renderSignupMails(token: string, config: SignupConfig): SignupMails {
  const hours = Math.round(config.tokenTtlSeconds / 3600);
  let link = '';
  if (config.confirmUrl) {
    const u = new URL(config.confirmUrl);
    u.searchParams.set('token', token);
    link = `To finish, open this link:\n\n  ${u.toString()}\n\nor enter the code below.\n\n`;
  }
  return {
    confirm: {
      subject: 'Confirm your new account',
      text:
        'Someone (we hope you) asked to create an account with this address.\n\n' +
        link +
        `${CODE_PREFIX}${token}\n\n` +
        `It works once, for ${hours} hours; only the newest mail of this kind works. ` +
        'If you did not sign up, ignore this mail: no account is created.\n',
    },
    existing: {
      subject: 'Someone tried to create an account with your address',
      text:
        'Someone just asked to create a new account with this address, which already has one.\n\n' +
        'If it was you, sign in with your existing account instead.\n' +
        'If it was not, you need not do anything: your account was not changed, and no new one was created.\n',
    },
  };
}
