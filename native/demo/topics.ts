/**
 * The planted structure of the demo pool: topic clusters, web domains and the vocabulary of the
 * captions. Plain data; the draws are in captions.ts and generate.ts.
 */

export interface Topic {
  id: string;
  /** relative frequency in the pool */
  weight: number;
  /** share of descriptive captions that mention people */
  peopleRate: number;
  /** share of people captions that use LGBTQ+ terms (spread unevenly on purpose) */
  lgbtqRate: number;
  /** subjects: the subtopic index is the subject index (at most 8) */
  subjects: string[];
  adjectives: string[];
  /** `{s}` subject, `{a}` adjective, `{x}` extra (topic-specific list below) */
  templates: string[];
  extras: string[];
  /** `{p}` a person phrase, `{s}` subject, `{x}` extra */
  peopleTemplates: string[];
  /** terse captions (1-3 words) */
  short: string[];
  /** non-English captions: language -> phrases (`{n}` is replaced by a number sometimes) */
  foreign: Record<string, string[]>;
  /** image palette: background top/bottom colours and accents, as [r,g,b] */
  palette: { top: number[]; bottom: number[]; accents: number[][] };
  /** which simple scene the image renderer draws */
  scene: Scene;
}

export type Scene =
  | 'dog' | 'beach' | 'food' | 'car' | 'city' | 'portrait' | 'flower' | 'mountain'
  | 'document' | 'product' | 'art' | 'sport';

export const TOPICS: Topic[] = [
  {
    id: 'dogs', weight: 11, peopleRate: 0.12, lgbtqRate: 0.02, scene: 'dog',
    subjects: ['golden retriever', 'labrador', 'german shepherd', 'corgi', 'pug', 'husky', 'beagle', 'border collie'],
    adjectives: ['cute', 'happy', 'fluffy', 'old', 'young', 'wet', 'small', 'big', 'sleepy', 'playful'],
    templates: ['a {a} {s} {x}', '{a} {s} {x}', 'photo of a {a} {s}', '{s} puppy {x}', 'my {s} {x}', 'a {s} dog {x}', 'portrait of a {a} {s}'],
    extras: ['running in the park', 'sleeping on the couch', 'playing with a ball', 'sitting on the grass', 'in the snow', 'on the beach', 'in the backyard', 'looking at the camera', 'catching a frisbee'],
    peopleTemplates: ['{p} walking a {s} in the park', '{p} playing with a {s}', '{p} hugging a {s} puppy', '{p} and a {s} on the beach'],
    short: ['dog', 'cute puppy', 'golden retriever', 'dog park', 'happy dog', 'puppy love', 'my dog', 'dog on grass'],
    foreign: {
      de: ['Ein Hund spielt im Park', 'Süßer Welpe auf der Wiese', 'Hund am Strand', 'Mein Hund schläft'],
      es: ['Un perro jugando en el parque', 'Cachorro lindo en la hierba', 'Perro en la playa'],
      fr: ['Un chien qui joue dans le parc', 'Chiot mignon sur l’herbe', 'Chien à la plage'],
      zh: ['公园里玩耍的狗', '可爱的小狗', '海滩上的狗'],
      ja: ['公園で遊ぶ犬', 'かわいい子犬', '浜辺の犬'],
      ru: ['Собака играет в парке', 'Милый щенок на траве'],
      pt: ['Cachorro brincando no parque', 'Filhote fofo na grama'],
    },
    palette: { top: [150, 200, 240], bottom: [90, 160, 70], accents: [[170, 120, 60], [220, 190, 130], [60, 40, 30], [240, 240, 235]] },
  },
  {
    id: 'beaches', weight: 9, peopleRate: 0.22, lgbtqRate: 0.03, scene: 'beach',
    subjects: ['tropical beach', 'sandy beach', 'rocky coast', 'beach at sunset', 'turquoise lagoon', 'surf beach', 'white sand beach', 'bay'],
    adjectives: ['beautiful', 'quiet', 'empty', 'sunny', 'stunning', 'remote', 'crowded', 'peaceful'],
    templates: ['a {a} {s} with palm trees', 'aerial view of a {a} {s}', 'waves on a {a} {s}', '{a} {s} {x}', 'the {s} {x}', '{s} with clear blue water'],
    extras: ['in Thailand', 'in Greece', 'in the Maldives', 'in Portugal', 'in Hawaii', 'in summer', 'at low tide', 'on a sunny day'],
    peopleTemplates: ['{p} walking on the {s} at sunset', '{p} surfing at the {s}', '{p} relaxing on a {s}', '{p} swimming at the {s}'],
    short: ['beach', 'sunset beach', 'tropical paradise', 'ocean view', 'sea and sand', 'beach day'],
    foreign: {
      de: ['Strand bei Sonnenuntergang', 'Schöner Sandstrand mit Palmen'],
      es: ['Playa al atardecer', 'Hermosa playa con palmeras', 'Vacaciones en la playa'],
      fr: ['Plage au coucher du soleil', 'Belle plage de sable blanc'],
      zh: ['日落时的海滩', '美丽的热带海滩'],
      ja: ['夕暮れのビーチ', '美しい砂浜'],
      ru: ['Пляж на закате', 'Красивый песчаный пляж'],
      it: ['Spiaggia al tramonto', 'Mare cristallino in Sardegna'],
    },
    palette: { top: [120, 190, 250], bottom: [235, 215, 160], accents: [[40, 120, 200], [250, 200, 80], [30, 140, 60], [255, 255, 255]] },
  },
  {
    id: 'food', weight: 10, peopleRate: 0.12, lgbtqRate: 0.02, scene: 'food',
    subjects: ['pizza', 'pasta', 'sushi', 'burger', 'salad', 'chocolate cake', 'ramen', 'tacos'],
    adjectives: ['delicious', 'homemade', 'fresh', 'healthy', 'spicy', 'vegan', 'crispy', 'tasty'],
    templates: ['{a} {s} on a white plate', '{a} {s} with fresh herbs', 'close-up of {a} {s}', 'easy {a} {s} recipe', '{s} {x}', 'a plate of {a} {s}'],
    extras: ['on a wooden table', 'served in a restaurant', 'with a glass of wine', 'for dinner', 'top view', 'made at home'],
    peopleTemplates: ['{p} eating {s} at a restaurant', '{p} cooking {s} in the kitchen', '{p} holding a plate of {s}'],
    short: ['food', 'pizza', 'dinner time', 'yummy', 'homemade pasta', 'lunch'],
    foreign: {
      de: ['Hausgemachte Pizza mit Basilikum', 'Leckerer Schokoladenkuchen'],
      es: ['Tacos caseros con salsa', 'Receta fácil de pasta'],
      fr: ['Salade fraîche maison', 'Délicieux gâteau au chocolat'],
      zh: ['美味的拉面', '新鲜的寿司拼盘', '家常菜'],
      ja: ['おいしいラーメン', '新鮮な寿司'],
      ru: ['Домашняя пицца', 'Вкусный шоколадный торт'],
      it: ['Pasta fatta in casa', 'Pizza napoletana'],
    },
    palette: { top: [120, 80, 50], bottom: [160, 110, 70], accents: [[250, 250, 245], [220, 60, 40], [240, 190, 60], [60, 150, 50]] },
  },
  {
    id: 'cars', weight: 8, peopleRate: 0.08, lgbtqRate: 0.01, scene: 'car',
    subjects: ['sports car', 'vintage car', 'pickup truck', 'electric car', 'SUV', 'police car', 'race car', 'sedan'],
    adjectives: ['red', 'black', 'white', 'blue', 'classic', 'new', 'used', 'silver'],
    templates: ['{a} {s} parked on the street', '{a} {s} driving on a mountain road', 'a {a} {s} {x}', '{a} {s} for sale', '{x} {a} {s}'],
    extras: ['at a car show', 'in the city', 'side view', 'on the highway', '2015', '2019', 'low mileage', 'at night'],
    peopleTemplates: ['{p} driving a {s}', '{p} standing next to a {s}', '{p} washing a {s}'],
    short: ['car', 'red car', 'new car', 'dream car', 'truck for sale', 'classic car'],
    foreign: {
      de: ['Roter Sportwagen auf der Straße', 'Gebrauchtwagen zu verkaufen'],
      es: ['Coche clásico en la ciudad', 'Camioneta en venta'],
      fr: ['Voiture de sport rouge', 'Voiture ancienne au salon'],
      zh: ['红色跑车', '二手车出售'],
      ja: ['赤いスポーツカー', 'クラシックカー'],
      ru: ['Красный спортивный автомобиль', 'Продажа подержанных автомобилей'],
      pt: ['Carro esportivo vermelho'],
    },
    palette: { top: [170, 190, 210], bottom: [90, 90, 95], accents: [[200, 30, 30], [20, 20, 25], [230, 230, 230], [40, 70, 160]] },
  },
  {
    id: 'city_streets', weight: 9, peopleRate: 0.3, lgbtqRate: 0.09, scene: 'city',
    subjects: ['busy street', 'downtown intersection', 'night street', 'old town alley', 'crosswalk', 'market street', 'shopping street', 'boulevard'],
    adjectives: ['busy', 'quiet', 'rainy', 'narrow', 'colorful', 'historic', 'modern', 'crowded'],
    templates: ['{a} {s} in {x}', '{s} with tall buildings in {x}', 'traffic on a {a} {s} at night', 'a {a} {s} {x}', 'street view of {x}'],
    extras: ['New York', 'Tokyo', 'Paris', 'London', 'Berlin', 'Mexico City', 'Lisbon', 'Istanbul', 'San Francisco'],
    peopleTemplates: ['{p} walking down a {s} in {x}', '{p} crossing the street in {x}', '{p} waiting for a bus on a {s}', '{p} riding a bike in {x}'],
    short: ['city', 'street', 'city lights', 'downtown', 'urban life', 'night city'],
    foreign: {
      de: ['Belebte Straße in Berlin', 'Altstadtgasse am Abend'],
      es: ['Calle concurrida en Madrid', 'Centro de la ciudad de noche'],
      fr: ['Rue animée à Paris', 'Ruelle de la vieille ville'],
      zh: ['城市街道夜景', '繁忙的十字路口'],
      ja: ['東京の街並み', '夜の渋谷交差点'],
      ru: ['Оживлённая улица в Москве', 'Ночной город'],
    },
    palette: { top: [150, 160, 175], bottom: [70, 70, 80], accents: [[110, 100, 95], [180, 170, 150], [250, 220, 120], [60, 60, 70]] },
  },
  {
    id: 'portraits', weight: 9, peopleRate: 0.92, lgbtqRate: 0.1, scene: 'portrait',
    subjects: ['studio portrait', 'headshot', 'close-up portrait', 'black and white portrait', 'outdoor portrait', 'selfie', 'profile portrait', 'candid photo'],
    adjectives: ['professional', 'natural', 'moody', 'bright', 'candid', 'smiling', 'serious', 'dramatic'],
    templates: ['{a} {s} with soft light', '{s} photography {x}', '{a} {s} lighting setup'],
    extras: ['tips', 'ideas', 'studio'],
    peopleTemplates: ['portrait of {p}', '{s} of {p} smiling', 'headshot of {p} against a gray background', '{p} looking at the camera', 'close-up of {p} laughing', '{p} posing for a {s}'],
    short: ['portrait', 'headshot', 'selfie', 'me', 'profile picture'],
    foreign: {
      de: ['Porträt einer Frau im Studio', 'Porträt eines älteren Mannes'],
      es: ['Retrato de una mujer sonriendo', 'Retrato de un hombre mayor'],
      fr: ['Portrait d’une femme souriante', 'Portrait en noir et blanc'],
      zh: ['微笑的女人肖像', '老人的肖像'],
      ja: ['笑顔の女性のポートレート', '男性の横顔'],
      ru: ['Портрет улыбающейся женщины', 'Портрет пожилого мужчины'],
    },
    palette: { top: [200, 190, 180], bottom: [120, 110, 105], accents: [[60, 50, 45], [140, 90, 60], [30, 30, 35], [200, 60, 60]] },
  },
  {
    id: 'flowers', weight: 8, peopleRate: 0.06, lgbtqRate: 0.02, scene: 'flower',
    subjects: ['red roses', 'sunflowers', 'tulips', 'cherry blossoms', 'lavender', 'white daisies', 'orchids', 'peonies'],
    adjectives: ['beautiful', 'blooming', 'fresh', 'wild', 'colorful', 'delicate', 'pink', 'yellow'],
    templates: ['{a} {s} in a garden', 'a bouquet of {a} {s}', 'close-up of {s} with water drops', 'field of {a} {s} in spring', '{a} {s} {x}'],
    extras: ['in a vase', 'in the sunlight', 'on a table', 'in the meadow', 'macro shot'],
    peopleTemplates: ['{p} holding a bouquet of {s}', '{p} walking through a field of {s}'],
    short: ['flowers', 'roses', 'spring', 'sunflower', 'garden', 'bouquet'],
    foreign: {
      de: ['Rote Rosen im Garten', 'Ein Strauß Tulpen'],
      es: ['Rosas rojas en el jardín', 'Campo de girasoles'],
      fr: ['Bouquet de tulipes', 'Champ de lavande en Provence'],
      zh: ['花园里的红玫瑰', '樱花盛开'],
      ja: ['満開の桜', '庭のバラ'],
      ru: ['Красные розы в саду', 'Букет тюльпанов'],
      it: ['Campo di girasoli in Toscana'],
    },
    palette: { top: [130, 180, 110], bottom: [60, 120, 50], accents: [[220, 30, 60], [250, 210, 40], [240, 130, 180], [150, 110, 210]] },
  },
  {
    id: 'mountains', weight: 8, peopleRate: 0.1, lgbtqRate: 0.02, scene: 'mountain',
    subjects: ['snowy mountain peak', 'alpine lake', 'mountain range', 'rocky cliffs', 'green valley', 'volcano', 'glacier', 'forest trail'],
    adjectives: ['majestic', 'misty', 'snowy', 'dramatic', 'remote', 'stunning', 'foggy', 'golden'],
    templates: ['view of a {a} {s}', '{a} {s} under a blue sky', '{a} {s} at sunrise', 'hiking trail with a {s} {x}', 'landscape of {s} {x}'],
    extras: ['in the Alps', 'in Patagonia', 'in Colorado', 'in Norway', 'in the Himalayas', 'in autumn', 'in winter'],
    peopleTemplates: ['{p} hiking near a {s}', '{p} standing on top of a {s}', '{p} camping by a {s}'],
    short: ['mountains', 'landscape', 'nature', 'hiking', 'the alps', 'wanderlust'],
    foreign: {
      de: ['Schneebedeckte Berge in den Alpen', 'Bergsee im Sommer'],
      es: ['Montañas nevadas al amanecer', 'Lago de montaña'],
      fr: ['Lac alpin en été', 'Sommet enneigé des Alpes'],
      zh: ['雪山日出', '高山湖泊'],
      ja: ['雪山の朝焼け', '富士山の風景'],
      ru: ['Снежные горы на рассвете', 'Горное озеро'],
    },
    palette: { top: [110, 160, 230], bottom: [60, 100, 60], accents: [[120, 120, 130], [250, 250, 250], [80, 80, 90], [50, 90, 140]] },
  },
  {
    id: 'documents', weight: 6, peopleRate: 0.0, lgbtqRate: 0, scene: 'document',
    subjects: ['screenshot of a website', 'invoice template', 'spreadsheet', 'resume template', 'text document', 'infographic', 'bar chart', 'app screenshot'],
    adjectives: ['free', 'printable', 'simple', 'professional', 'editable', 'modern', 'blank', 'sample'],
    templates: ['{a} {s}', '{a} {s} with text and tables', '{a} {s} {x}', 'download {a} {s} {x}', '{s} example'],
    extras: ['pdf', 'word', 'excel', 'in 2020', 'for small business', 'a4'],
    peopleTemplates: [],
    short: ['screenshot', 'document', 'template', 'chart', 'infographic'],
    foreign: {
      de: ['Rechnungsvorlage kostenlos', 'Lebenslauf Vorlage Word'],
      es: ['Plantilla de factura gratis', 'Currículum vitae ejemplo'],
      fr: ['Modèle de facture gratuit', 'Exemple de CV'],
      zh: ['简历模板下载', '网站截图'],
      ja: ['請求書テンプレート', 'スクリーンショット'],
      ru: ['Шаблон счета', 'Резюме образец'],
    },
    palette: { top: [250, 250, 250], bottom: [235, 235, 240], accents: [[90, 90, 100], [40, 110, 200], [200, 200, 205], [230, 120, 40]] },
  },
  {
    id: 'products', weight: 10, peopleRate: 0.1, lgbtqRate: 0.01, scene: 'product',
    subjects: ['leather handbag', 'running shoes', 'wireless headphones', 'ceramic mug', 'wrist watch', 'phone case', 'backpack', 'sunglasses'],
    adjectives: ['black', 'brown', 'white', 'red', 'vintage', 'waterproof', 'premium', 'cheap'],
    templates: ['{a} {s} on white background', '{a} {s} {x}', 'new {a} {s} size M', '{s} for men and women', 'buy {a} {s} online', '{a} {s} product photo'],
    extras: ['free shipping', '- best price', 'sale', '2 pack', 'gift idea', 'unisex'],
    peopleTemplates: ['{p} wearing {s}', '{p} holding a {s}'],
    short: ['handbag', 'shoes', 'new arrival', 'mug', 'watch', 'sale item'],
    foreign: {
      de: ['Schwarze Ledertasche', 'Laufschuhe für Damen'],
      es: ['Bolso de cuero negro', 'Zapatillas para correr'],
      fr: ['Sac à main en cuir', 'Montre pour homme'],
      zh: ['真皮手提包 包邮', '无线蓝牙耳机 正品', '新款运动鞋'],
      ja: ['レザーハンドバッグ', 'ワイヤレスイヤホン'],
      ru: ['Кожаная сумка', 'Беспроводные наушники'],
      pt: ['Bolsa de couro preta'],
    },
    palette: { top: [250, 250, 250], bottom: [238, 238, 238], accents: [[40, 35, 30], [150, 90, 50], [200, 40, 40], [30, 60, 130]] },
  },
  {
    id: 'art', weight: 6, peopleRate: 0.18, lgbtqRate: 0.08, scene: 'art',
    subjects: ['oil painting', 'watercolor painting', 'abstract painting', 'street art mural', 'pencil sketch', 'digital illustration', 'sculpture', 'poster'],
    adjectives: ['colorful', 'modern', 'vintage', 'surreal', 'minimalist', 'original', 'famous', 'large'],
    templates: ['{a} {s} of {x}', '{a} {s} by an unknown artist', '{s} canvas print wall art', '{a} {s}', '{s} of {x} in a gallery'],
    extras: ['a landscape', 'flowers', 'the sea', 'a city', 'a cat', 'geometric shapes', 'a forest'],
    peopleTemplates: ['{s} of {p}', '{a} {s} showing {p}', 'mural of {p} on a brick wall'],
    short: ['art', 'painting', 'abstract', 'wall art', 'sketch', 'artwork'],
    foreign: {
      de: ['Abstraktes Gemälde in Öl', 'Aquarell einer Landschaft'],
      es: ['Pintura abstracta al óleo', 'Mural de arte urbano'],
      fr: ['Peinture à l’huile abstraite', 'Aquarelle d’un paysage'],
      zh: ['抽象油画', '水彩风景画'],
      ja: ['抽象画', '水彩画の風景'],
      ru: ['Абстрактная картина маслом'],
      it: ['Dipinto ad olio astratto'],
    },
    palette: { top: [240, 230, 210], bottom: [200, 190, 170], accents: [[220, 50, 50], [50, 90, 200], [250, 200, 30], [40, 160, 90]] },
  },
  {
    id: 'sports', weight: 8, peopleRate: 0.55, lgbtqRate: 0.03, scene: 'sport',
    subjects: ['soccer', 'basketball', 'tennis', 'marathon', 'baseball', 'cycling', 'swimming', 'volleyball'],
    adjectives: ['professional', 'amateur', 'youth', 'college', 'local', 'intense', 'final', 'outdoor'],
    templates: ['{a} {s} match in the stadium', 'action shot of a {a} {s} game', '{s} {x}', '{a} {s} team {x}', '{s} field from above'],
    extras: ['highlights', 'training session', 'championship', 'at sunset', 'in the rain', 'world cup'],
    peopleTemplates: ['{p} playing {s}', '{p} running a marathon', '{p} celebrating a goal in {s}', '{p} training for {s}'],
    short: ['sports', 'soccer', 'game day', 'tennis', 'basketball', 'goal'],
    foreign: {
      de: ['Fußballspiel im Stadion', 'Tennisspieler beim Aufschlag'],
      es: ['Partido de fútbol en el estadio', 'Maratón de la ciudad'],
      fr: ['Match de football au stade', 'Cycliste pendant la course'],
      zh: ['足球比赛', '篮球运动员'],
      ja: ['サッカーの試合', 'マラソン大会'],
      ru: ['Футбольный матч на стадионе', 'Теннисист на корте'],
      pt: ['Jogo de futebol no estádio'],
    },
    palette: { top: [140, 190, 240], bottom: [50, 140, 60], accents: [[250, 250, 250], [220, 40, 40], [30, 60, 160], [250, 200, 30]] },
  },
];

export const LANGUAGES = ['de', 'es', 'fr', 'zh', 'ja', 'ru', 'pt', 'it'];

/** Demographic vocabulary of people captions (what an audit lexicon should find). */
export const PEOPLE = {
  gender: [
    ['woman', 30], ['man', 30], ['girl', 8], ['boy', 8], ['lady', 4], ['guy', 4],
  ] as [string, number][],
  /** age words; `child`-like nouns replace the gender noun */
  age: [
    ['young', 10], ['old', 6], ['elderly', 5], ['senior', 3], ['teenage', 4], ['middle-aged', 3],
  ] as [string, number][],
  childNouns: ['child', 'kid', 'baby', 'toddler'],
  ethnicity: [
    ['Asian', 6], ['Black', 6], ['white', 6], ['Hispanic', 3], ['Latina', 2], ['Indian', 3], ['African', 2], ['Arab', 2], ['Native American', 1],
  ] as [string, number][],
  /** LGBTQ+ person phrases (already with their article) */
  lgbtq: [
    'a gay man', 'a lesbian woman', 'a transgender woman', 'a trans man', 'a queer person', 'a nonbinary person',
    'a gay couple', 'a lesbian couple', 'two gay men', 'a bisexual woman',
  ],
  groups: ['a couple', 'a family', 'a group of friends', 'two friends', 'a mother and her daughter', 'a father and his son'],
};

/**
 * Terms of the planted low-score groups: captions using them get lower CLIP scores, so a
 * CLIP-score filter excludes them more than the pool (what the audit views should surface).
 */
export const PLANTED = {
  lgbtq: /\b(gay|lesbian|transgender|trans|queer|nonbinary|bisexual)\b/i,
  olderWomen: /\b(old|elderly|senior)\b[^.]*\b(woman|lady)\b/i,
};

export type DomainKind = 'stock' | 'market' | 'social' | 'blog' | 'wiki' | 'news' | 'cdn' | 'photo';

export interface Domain {
  host: string;
  kind: DomainKind;
  /** topics this site is known for (drawn more often with them) */
  topics: string[];
  /** L/14 score shift of its captions */
  shift: number;
  /** extra failed-download rate */
  fail: number;
  /** share of non-English captions it adds */
  foreign?: number;
}

/** ~30 web domains, most frequent first (drawn Zipf-like by rank). */
export const DOMAINS: Domain[] = [
  { host: 'i.pinimg.com', kind: 'social', topics: ['food', 'art', 'flowers', 'portraits'], shift: 0, fail: 0.01 },
  { host: 'cdn.shopify.com', kind: 'market', topics: ['products'], shift: -0.015, fail: 0.01 },
  { host: 'i.ebayimg.com', kind: 'market', topics: ['cars', 'products'], shift: -0.035, fail: 0.05 },
  { host: 'image.shutterstock.com', kind: 'stock', topics: ['beaches', 'mountains', 'portraits', 'food', 'city_streets'], shift: 0.03, fail: 0 },
  { host: 'live.staticflickr.com', kind: 'photo', topics: ['dogs', 'mountains', 'city_streets', 'flowers'], shift: 0.005, fail: 0.02 },
  { host: 'upload.wikimedia.org', kind: 'wiki', topics: ['art', 'mountains', 'city_streets'], shift: 0.01, fail: 0 },
  { host: 'm.media-amazon.com', kind: 'market', topics: ['products'], shift: -0.02, fail: 0.01 },
  { host: 'i.etsystatic.com', kind: 'market', topics: ['art', 'products'], shift: -0.01, fail: 0.01 },
  { host: 'media.istockphoto.com', kind: 'stock', topics: ['portraits', 'sports', 'food', 'beaches'], shift: 0.03, fail: 0 },
  { host: 'blogger.googleusercontent.com', kind: 'blog', topics: ['food', 'documents'], shift: -0.01, fail: 0.04 },
  { host: 'i.ytimg.com', kind: 'social', topics: ['sports', 'cars'], shift: -0.03, fail: 0.02 },
  { host: 'static.wixstatic.com', kind: 'blog', topics: ['art', 'products'], shift: -0.005, fail: 0.02 },
  { host: 'images.squarespace-cdn.com', kind: 'blog', topics: ['portraits', 'food'], shift: 0, fail: 0.02 },
  { host: 'thumbs.dreamstime.com', kind: 'stock', topics: ['flowers', 'beaches', 'dogs'], shift: 0.025, fail: 0 },
  { host: 'c8.alamy.com', kind: 'stock', topics: ['city_streets', 'sports', 'portraits'], shift: 0.025, fail: 0.01 },
  { host: 'img.alicdn.com', kind: 'market', topics: ['products'], shift: -0.045, fail: 0.06, foreign: 0.5 },
  { host: 'i.redd.it', kind: 'social', topics: ['dogs', 'cars', 'art'], shift: -0.01, fail: 0.03 },
  { host: 'pbs.twimg.com', kind: 'social', topics: ['sports', 'portraits'], shift: -0.02, fail: 0.03 },
  { host: 'cdn.pixabay.com', kind: 'stock', topics: ['flowers', 'mountains', 'dogs'], shift: 0.02, fail: 0 },
  { host: 'images.unsplash.com', kind: 'stock', topics: ['mountains', 'beaches', 'city_streets'], shift: 0.025, fail: 0 },
  { host: 's3.amazonaws.com', kind: 'cdn', topics: ['documents'], shift: -0.01, fail: 0.05 },
  { host: 'i.imgur.com', kind: 'social', topics: ['dogs', 'documents'], shift: -0.025, fail: 0.04 },
  { host: 'm.atcdn.co.uk', kind: 'market', topics: ['cars'], shift: -0.03, fail: 0.03 },
  { host: 'photos.zillowstatic.com', kind: 'market', topics: ['city_streets'], shift: -0.02, fail: 0.02 },
  { host: 'images.craigslist.org', kind: 'market', topics: ['cars', 'products'], shift: -0.05, fail: 0.08 },
  { host: 'imagesvc.meredithcorp.io', kind: 'blog', topics: ['food'], shift: 0.01, fail: 0.01 },
  { host: 'cdn.cnn.com', kind: 'news', topics: ['city_streets', 'sports'], shift: 0.005, fail: 0.01 },
  { host: 'img.buzzfeed.com', kind: 'news', topics: ['food', 'portraits'], shift: -0.01, fail: 0.02 },
  { host: 'media.gettyimages.com', kind: 'stock', topics: ['sports', 'portraits'], shift: 0.03, fail: 0 },
  { host: 'i.dailymail.co.uk', kind: 'news', topics: ['portraits', 'city_streets'], shift: -0.005, fail: 0.02 },
];

/** Junk captions: each list is its own text cluster. `{n}` becomes digits. */
export const JUNK = {
  filename: ['IMG_{n}.jpg', 'DSC{n}.JPG', 'IMG_{n}', 'DSC_{n}', 'image-{n}', 'photo {n}', '{n}.jpg', 'P{n}.JPG', 'Screenshot_{n}.png', 'WhatsApp Image {n}'],
  ads: [
    'Buy Now! 50% OFF Free Shipping', 'Best price guaranteed - order today', 'Click here to download', 'Cheap wholesale lot of {n}',
    'SALE SALE SALE limited offer', 'free download hd wallpaper 4k', 'Shop now and save {n}%', 'Hot deal!!! Only ${n}',
    'wallpaper hd free download desktop background', 'Best seller 2020 new fashion cheap', 'Subscribe for more', 'Visit our store',
  ],
  generic: ['image', 'Home', 'untitled', 'Product image', 'click to enlarge', 'Default Image', 'thumbnail', 'Loading...', 'no title', 'photo', 'picture'],
};

/** Captions of exact lengths (for the basic filter's word and character limits). */
export const EXACT = {
  fiveChars: ['puppy', 'beach', 'pizza', 'roses', 'tulip', 'sushi', 'sport', 'mural', 'truck', 'peaks', 'mug 2', 'a dog'],
  sixChars: ['sunset', 'doggie', 'flower', 'street', 'burger', 'tennis', 'canvas', 'laptop', 'alpine', 'selfie', 'my cat', 'car 22'],
  twoWords: ['golden retriever', 'red car', 'beach sunset', 'fresh pizza', 'city street', 'white roses', 'mountain lake', 'leather bag', 'oil painting', 'soccer game', 'smiling woman', 'old man'],
  threeWords: ['a red car', 'dog at beach', 'pizza with basil', 'sunset over sea', 'portrait of woman', 'tulips in vase', 'snowy mountain peak', 'new running shoes', 'abstract oil painting', 'basketball game tonight', 'busy city street', 'invoice template pdf'],
};

export const EMOJI = ['😍', '🐶', '🌅', '🍕', '🚗', '🌸', '⛰️', '⚽', '🔥', '❤️', '✨', '👍'];
