package config

import "strings"

// sharedDomain is a domain under which anyone can rent a name, and so
// receive whatever is sent to a host there: a wildcard trust entry over it
// would send the bot's token to strangers. zones is how many labels below
// it are still shared (a region or zone label before the tenant's own
// name: name.westeurope.cloudapp.azure.com), -1 for any number.
type sharedDomain struct {
	domain  string
	service string
	zones   int
}

// sharedDomains lists the hosting, tunnel and CDN domains where names are
// handed out to anyone with an account. The built-in connector hosts
// (smba.trafficmanager.net, …) are exact names, not wildcards, and are not
// affected.
func sharedDomains() []sharedDomain {
	return []sharedDomain{
		// Azure.
		{"azurewebsites.net", "Azure App Service", 0},
		{"trafficmanager.net", "Azure Traffic Manager", 0},
		{"cloudapp.azure.com", "Azure public IP DNS names", 1},
		{"cloudapp.net", "Azure Cloud Services", 0},
		{"azure-api.net", "Azure API Management", 0},
		{"azurefd.net", "Azure Front Door", 1},
		{"azureedge.net", "Azure CDN", 0},
		{"blob.core.windows.net", "Azure Blob Storage", 0},
		{"web.core.windows.net", "Azure Storage static websites", 1},
		{"servicebus.windows.net", "Azure Relay and Service Bus", 0},
		{"azurecontainerapps.io", "Azure Container Apps", -1},
		{"azurestaticapps.net", "Azure Static Web Apps", 1},
		{"azure-mobile.net", "Azure Mobile Services", 0},
		{"azurecontainer.io", "Azure Container Instances", 1},
		{"devtunnels.ms", "Microsoft Dev Tunnels", 1},
		// Tunnels.
		{"ngrok.io", "ngrok", 1},
		{"ngrok.app", "ngrok", 0},
		{"ngrok.dev", "ngrok", 0},
		{"ngrok-free.app", "ngrok", 0},
		{"ngrok-free.dev", "ngrok", 0},
		{"trycloudflare.com", "Cloudflare quick tunnels", 0},
		{"loca.lt", "localtunnel", 0},
		{"localtunnel.me", "localtunnel", 0},
		{"lhr.life", "localhost.run", 0},
		{"serveo.net", "Serveo", 0},
		// Other clouds and hosting.
		{"amazonaws.com", "AWS", -1},
		{"cloudfront.net", "Amazon CloudFront", 0},
		{"elasticbeanstalk.com", "AWS Elastic Beanstalk", -1},
		{"appspot.com", "Google App Engine", -1},
		{"run.app", "Google Cloud Run", 1},
		{"cloudfunctions.net", "Google Cloud Functions", 0},
		{"web.app", "Firebase Hosting", 0},
		{"firebaseapp.com", "Firebase Hosting", 0},
		{"herokuapp.com", "Heroku", 0},
		{"vercel.app", "Vercel", 0},
		{"netlify.app", "Netlify", 0},
		{"pages.dev", "Cloudflare Pages", 0},
		{"workers.dev", "Cloudflare Workers", 1},
		{"github.io", "GitHub Pages", 0},
		{"gitlab.io", "GitLab Pages", 0},
		{"onrender.com", "Render", 0},
		{"fly.dev", "Fly.io", 0},
		{"up.railway.app", "Railway", 0},
		{"ondigitalocean.app", "DigitalOcean App Platform", 0},
		{"glitch.me", "Glitch", 0},
		{"replit.dev", "Replit", -1},
		{"repl.co", "Replit", -1},
		{"deno.dev", "Deno Deploy", 0},
		{"surge.sh", "Surge", 0},
	}
}

// genericSecondLevel are the labels that, before a two-letter country
// code, make a public suffix (co.uk, com.au, org.nz, ne.jp, …).
const genericSecondLevel = " ac co com edu gob go gov ltd mil ne net nom or org plc sch "

// sharedWildcard says why a wildcard "*.<suffix>" covers names anyone can
// rent, or returns "" when it does not. A specific host under such a domain
// (myconnector.azurewebsites.net) is not a wildcard and is fine.
func sharedWildcard(suffix string) string {
	labels := strings.Split(suffix, ".")
	if len(labels) == 1 ||
		len(labels) == 2 && len(labels[1]) == 2 && strings.Contains(genericSecondLevel, " "+labels[0]+" ") {
		return suffix + " is a public suffix: anyone can register a domain under it"
	}
	for _, d := range sharedDomains() {
		if d.domain == suffix || strings.HasSuffix(d.domain, "."+suffix) {
			return "it covers " + d.domain + ", where anyone can rent a name (" + d.service + ")"
		}
		below, ok := strings.CutSuffix(suffix, "."+d.domain)
		if ok && (d.zones < 0 || strings.Count(below, ".")+1 <= d.zones) {
			return "names under " + suffix + " are rented to anyone (" + d.service + ")"
		}
	}
	return ""
}
