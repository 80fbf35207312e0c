// Paying for a ticket. The local stage completes the payment through the dev pay route (the
// real webhook code; stripe-mock never pays). Every other stage mounts Stripe's Payment Element
// with the client secret and publishable key the purchase answer carries. @stripe/stripe-js is
// imported from its `pure` entry in a split chunk, so js.stripe.com is contacted only when a
// Payment Element is actually mounted (never in local, offline use).
import type { Stripe, StripeElements } from "@stripe/stripe-js";

export type PaymentRoute = "dev" | "stripe";

/** Which way a purchase is paid: the dev route only in the local stage that serves it. */
export function paymentRoute(stage: string, servesDevPay: boolean): PaymentRoute {
  return stage === "local" && servesDevPay ? "dev" : "stripe";
}

export interface PaymentIntentKeys { client_secret: string; publishable_key: string }

export interface MountedPayment {
  /** Confirm the payment; resolves with the PaymentIntent's status or throws a sentence. */
  confirm(returnUrl: string): Promise<string>;
  destroy(): void;
}

export async function mountPaymentElement(container: HTMLElement, keys: PaymentIntentKeys): Promise<MountedPayment> {
  const { loadStripe } = await import("@stripe/stripe-js/pure/index.mjs"); // the ES module (esbuild would pick the CommonJS index.js)
  let stripe: Stripe | null;
  try {
    stripe = await loadStripe(keys.publishable_key);
  } catch (e) {
    throw new Error(`could not load Stripe's payment form from js.stripe.com (${e instanceof Error ? e.message : "unknown error"})`);
  }
  if (!stripe) throw new Error("Stripe's payment form is not available in this page");
  const elements: StripeElements = stripe.elements({ clientSecret: keys.client_secret });
  const element = elements.create("payment");
  element.mount(container);
  const ready = stripe;
  return {
    async confirm(returnUrl: string) {
      const { error, paymentIntent } = await ready.confirmPayment({ elements, redirect: "if_required", confirmParams: { return_url: returnUrl } });
      if (error) throw new Error(error.message ?? "the payment did not go through");
      return paymentIntent?.status ?? "processing";
    },
    destroy() { element.destroy(); },
  };
}
