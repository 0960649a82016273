import gmail from "./gmail.js";
import google_ads from "./google_ads.js";
import hubspot from "./hubspot.js";
import linkedin_ads from "./linkedin_ads.js";
import meta_ads from "./meta_ads.js";
import outlook from "./outlook.js";
import salesforce from "./salesforce.js";
import sanity from "./sanity.js";
import webflow from "./webflow.js";

export const definitions = [gmail, outlook, webflow, sanity, google_ads, linkedin_ads, meta_ads, hubspot, salesforce];
