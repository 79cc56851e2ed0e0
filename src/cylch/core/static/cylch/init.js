// Start GOV.UK Frontend's components (menu toggle, error summary, details, buttons).
import { initAll } from '../govuk/govuk-frontend.min.js';

initAll();
