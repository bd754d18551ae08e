/* main.c — lastmile-webhook: actions out to HTTP receivers, signed, when due.
 */
#include "webhook.h"

int main(void) {
    return lm_runtime_main(&lm_webhook_worker);
}
